print("cnntui")
