print("pairrm")
