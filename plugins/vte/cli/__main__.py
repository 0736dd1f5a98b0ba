from vte.cli import main

main()
