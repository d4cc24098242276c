from fondation.cli import main

main()
