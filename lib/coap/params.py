"""RFC 7252 transmission parameters (section 4.8), named and configurable in one place.

All times are milliseconds. Pass a Params to an Endpoint, or change attributes after creating
one; derived values are computed from the base ones when asked for.
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

    def max_transmit_span(self):
        return int(self.ack_timeout * ((1 << self.max_retransmit) - 1) * self.ack_random_factor)

    def max_transmit_wait(self):
        return int(self.ack_timeout * ((1 << (self.max_retransmit + 1)) - 1) * self.ack_random_factor)

    def exchange_lifetime(self):
        return self.max_transmit_span() + 2 * self.max_latency + self.processing_delay

    def non_lifetime(self):
        return self.max_transmit_span() + self.max_latency
