"""The data: where datasets live, how they are fetched and read, how pixels
become a^(1), and the distortions applied to them."""
