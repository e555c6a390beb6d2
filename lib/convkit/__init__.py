"""convkit: the small, tested library behind the convolution course."""

__version__ = "0.1.0"
