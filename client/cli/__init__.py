"""``hactl``: the hafs command line (click). The entry point is ``client.cli.main:main``.

Modules: ``main`` (the group and global options), ``context`` (the shared
state: config, user, output mode, the lazily built Client), ``output`` (hdfs
text vs ``--json``, errors and exit codes), ``fs``/``fsquery``/``fschange``
(``hactl fs -ls`` and friends), ``fsformat`` (pure formatting), ``ha``
(``hactl ha``), ``image`` (``hactl image query``). It never imports server code.
"""
