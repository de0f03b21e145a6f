"""Payment providers: what each says about a payment (verify) and the money it gives back.

Each provider turns its API's answers into the pure `domain.payments` types; what they mean for
an order is decided there (`domain.payments.judge`).
"""
