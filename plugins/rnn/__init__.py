"""The seed's recurrent (LSTM/GRU) sequence classifier: the ``rnn`` plugin.

The model lives in ``model.py`` (``build``) and the data in ``data.py`` (``load``); both are
imported only when a hook is called, so listing models never imports Keras.
"""

from zoo.plugin import lazy_hooks

zoo_build, zoo_dataset = lazy_hooks(__name__)
