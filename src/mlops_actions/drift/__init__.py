"""Data drift: statistics (``stattests``), Evidently's test choice (``select``), column
summaries (``columns``), the reference profile (``profile``) and dataset drift (``dataset``)."""
