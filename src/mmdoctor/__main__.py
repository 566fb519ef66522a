from mmdoctor.cli import main

main()
