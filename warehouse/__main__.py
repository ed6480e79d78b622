from warehouse.server import main

main()
