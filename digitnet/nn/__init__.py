"""The network: activations, the forward pass, J(θ) and backprop, and the
optimisers and schedules that use its gradients.

Pure numpy on arrays; nothing here reads files or settings.
"""
