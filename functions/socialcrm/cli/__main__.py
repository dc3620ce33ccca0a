from socialcrm.cli import main

raise SystemExit(main())
