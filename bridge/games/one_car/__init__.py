"""What the games that send one record per frame, for the player's car only, share in their writers."""
