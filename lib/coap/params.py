"""RFC 7252 transmission parameters (section 4.8), named and configurable in one place.

All times are milliseconds. Pass a Params to an Endpoint; set base values as keywords
(Params(ack_timeout=300)). The derived values (section 4.8.2) are plain attributes computed
once here, so the message layer reads them without a call:

    max_transmit_span   ACK_TIMEOUT * (2 ** MAX_RETRANSMIT - 1) * ACK_RANDOM_FACTOR
    max_transmit_wait   ACK_TIMEOUT * (2 ** (MAX_RETRANSMIT + 1) - 1) * ACK_RANDOM_FACTOR
    lifetime            EXCHANGE_LIFETIME = MAX_TRANSMIT_SPAN + 2 * MAX_LATENCY + PROCESSING_DELAY
    non_lifetime        NON_LIFETIME = MAX_TRANSMIT_SPAN + MAX_LATENCY

Change a base value after creation only by making a new Params (the derived ones would not
follow).
"""


class Params:
    def __init__(self, **kw):
        self.ack_timeout = 2000          # ACK_TIMEOUT
        self.ack_random_factor = 1.5     # ACK_RANDOM_FACTOR
        self.max_retransmit = 4          # MAX_RETRANSMIT
        self.nstart = 1                  # NSTART: outstanding interactions per peer
        self.max_latency = 100000        # MAX_LATENCY
        self.processing_delay = 2000     # PROCESSING_DELAY (= ACK_TIMEOUT)
        self.backlog = 8                 # requests waiting for NSTART, over all peers
        self.dedup_size = 16             # remembered (peer, MID) pairs for deduplication
        self.max_pending = 8             # requests awaiting a response
        self.max_message = 1152          # largest datagram sent or accepted (PC-11)
        self.response_timeout = None     # wait for a separate response; None = MAX_TRANSMIT_WAIT
        for k in kw:
            if not hasattr(self, k):
                raise AttributeError(k)
            setattr(self, k, kw[k])
        t = self.ack_timeout
        f = self.ack_random_factor
        n = 1 << self.max_retransmit
        self.max_transmit_span = s = int(t * (n - 1) * f)
        self.max_transmit_wait = int(t * (2 * n - 1) * f)
        self.lifetime = s + 2 * self.max_latency + self.processing_delay
        self.non_lifetime = s + self.max_latency

    def exchange_lifetime(self):
        """EXCHANGE_LIFETIME (the `lifetime` attribute), for callers of the older API."""
        return self.lifetime
