"""The parts of ``mlops validate-data``: the pandera schema, a chunk-by-chunk scan of each
file, the column profile it builds, and the dataset-level checks and diff read from it.

Every file is read as a stream of chunks (one chunk when ``--chunksize`` is not given), and
everything kept between chunks is a count, a sum or an 8-byte hash per row, so results are
the same whole or chunked.
"""
