"""Users' images: decoding, ink, MNIST's geometry, segmentation into digits, and reading them."""
