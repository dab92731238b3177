"""Import TensorFlow without its C++ start-up chatter on stderr.

TensorFlow 2.21 logs CUDA probing and oneDNN notices through absl before any Python-level
setting applies (``TF_CPP_MIN_LOG_LEVEL`` does not silence them). The CLI imports it once
with file descriptor 2 pointed at a temporary file, and replays that output only if the
import fails, so users see their progress bar rather than noise.
"""

from __future__ import annotations

import os
import sys
import tempfile


def import_tensorflow_quietly() -> None:
    if "tensorflow" in sys.modules or os.environ.get("ZOO_TF_VERBOSE"):
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()  # the CUDA probe logs here, once
        except BaseException:
            os.dup2(saved, 2)
            capture.seek(0)
            sys.stderr.write(capture.read().decode("utf-8", "replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
