"""Pure order domain: status machine, money and errors. Standard library only."""
