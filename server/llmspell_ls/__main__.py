from llmspell_ls.cli import main

raise SystemExit(main())
