from photofeed.cli import main

main()
