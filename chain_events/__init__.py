"""The escrow contract's events, read from the chain (`oms chain-listen`).

decoding.py turns the contract's logs into the escrow events the webhook makes; cursor.py
keeps where the listener is and the blocks it saw; listener.py scans confirmed blocks and
finds reorgs; sink.py hands events to the inbox and the order workflows; service.py runs it.
"""

# Said by `oms chain-listen` without a chain, before the listener's modules (and web3's seconds
# of imports) are loaded.
NO_CHAIN = ("oms chain-listen: no chain is configured: set OMS_CHAIN_RPC_URL and the other "
            "OMS_CHAIN_* settings (README, Where the money comes from)")
