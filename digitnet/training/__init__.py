"""Training: the mini-batch loop, the learning-rate range test, and the files a
run leaves behind."""
