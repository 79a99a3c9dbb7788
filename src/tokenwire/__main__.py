from tokenwire.cli import main

main()
