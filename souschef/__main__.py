from souschef.cli import main

raise SystemExit(main())
