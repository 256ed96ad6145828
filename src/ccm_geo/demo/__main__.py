"""``python -m ccm_geo.demo OUT_DIR [--scale S] [--seed N] ...``: generate the demo province."""

from ccm_geo.demo.region import main

raise SystemExit(main())
