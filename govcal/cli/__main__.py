from govcal.cli import main

main()
