"""``python -m ccendpoint.proxy --settings FILE.json``: the proxy's serving process (see :mod:`.process`)."""

from ccendpoint.proxy.process import main

raise SystemExit(main())
