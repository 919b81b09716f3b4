"""tf_lottery: The Lottery Ticket Hypothesis (Frankle & Carbin, ICLR 2019) in TensorFlow.

TF-MOT 0.8 only works with Keras 2, so the legacy `tf_keras` must be selected before
TensorFlow is first imported; importing this package does that.
"""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
