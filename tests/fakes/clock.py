"""A clock the test advances by hand, for sessions that measure response times."""


class Clock:
    def __init__(self, t: float = 0.0):
        self.t = t

    def __call__(self) -> float:
        return self.t
