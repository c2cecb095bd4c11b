"""``perflab perf``: perflab's own overhead and data path measured against this machine's limits.

One concern per module: :mod:`~perflab.perf.harness` (barrier-synchronised rounds in forked worker
processes), :mod:`~perflab.perf.measure` (pure aggregation), :mod:`~perflab.perf.reference` (the
loopback reference: static file server and clients), :mod:`~perflab.perf.datapath` (the real download
code, warm, outside Step Functions), :mod:`~perflab.perf.pipeline` (one full run per configuration),
:mod:`~perflab.perf.output` (``perf.json``, the tables, the plot) and :mod:`~perflab.perf.run` (the
command, including the scaling series).
"""
