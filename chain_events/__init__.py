"""The escrow contract's events, read from the chain (`oms chain-listen`).

decoding.py turns the contract's logs into the escrow events the webhook makes; cursor.py
keeps where the listener is and the blocks it saw; listener.py scans confirmed blocks and
finds reorgs; sink.py hands events to the inbox and the order workflows; service.py runs it.
"""
