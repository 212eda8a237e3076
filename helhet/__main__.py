from helhet.cli import main

main()
