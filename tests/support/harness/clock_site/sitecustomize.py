"""The harness's clock inside a job's Python processes (this folder is on their PYTHONPATH).

With ``HARNESS_CLOCK_OFFSET`` (seconds) set, ``time.time``/``time.time_ns`` run that far ahead
of the machine's clock everywhere, and the project's own modules (``mlops_actions.*``) get a
``datetime`` whose ``now``/``utcnow``/``today`` do too, so a scheduled run can happen "days
later" while the code under test reads the clock as usual. Third-party modules keep the real
``datetime`` class (pandas subclasses it); everything handed out is a plain ``datetime``.
"""

import os

if os.environ.get("HARNESS_CLOCK_OFFSET"):
    import datetime as _datetime
    import importlib.abc
    import importlib.machinery
    import sys
    import time as _time

    _OFFSET = float(os.environ["HARNESS_CLOCK_OFFSET"])
    _real_time, _real_time_ns, _Real = _time.time, _time.time_ns, _datetime.datetime
    _time.time = lambda: _real_time() + _OFFSET
    _time.time_ns = lambda: _real_time_ns() + int(_OFFSET * 1e9)

    class _RealInstances(type):
        def __instancecheck__(cls, obj):
            return isinstance(obj, _Real)

    class _ShiftedDatetime(_Real, metaclass=_RealInstances):
        def __new__(cls, *args, **kwargs):
            return _Real(*args, **kwargs)

        @classmethod
        def now(cls, tz=None):
            return _Real.fromtimestamp(_time.time(), tz)

        @classmethod
        def utcnow(cls):
            return _Real.fromtimestamp(_time.time(), _datetime.UTC).replace(tzinfo=None)

        @classmethod
        def today(cls):
            return _Real.fromtimestamp(_time.time())

    class _ShiftProjectModules(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name.partition(".")[0] != "mlops_actions":
                return None
            spec = importlib.machinery.PathFinder.find_spec(name, path, target)
            if spec is not None and hasattr(spec.loader, "exec_module"):
                run = spec.loader.exec_module

                def exec_module(module):
                    run(module)
                    if getattr(module, "datetime", None) is _Real:
                        module.datetime = _ShiftedDatetime

                spec.loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, _ShiftProjectModules())
