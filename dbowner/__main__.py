from dbowner.cli import main

main()
