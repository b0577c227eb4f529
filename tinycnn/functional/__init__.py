"""tinycnn.functional: the math of every layer as pure array functions, forward and backward side by side.

Each ``*_forward`` returns ``(y, cache)`` and each ``*_backward`` takes ``(dy, cache)``; ``naive`` holds the loop
references that the fast versions are tested against.
"""
from . import naive
from .activation import (dropout_backward, dropout_forward, gelu_tanh_backward, gelu_tanh_forward,
                         leaky_relu_backward, leaky_relu_forward, relu_backward, relu_forward, sigmoid,
                         sigmoid_backward, sigmoid_forward, tanh_backward, tanh_forward)
from .conv import conv2d_backward, conv2d_forward
from .im2col import col2im, conv_output_size, im2col, pad2d
from .loss import binary_cross_entropy_with_logits, cross_entropy, log_softmax, mse, softmax
from .norm import batch_norm_backward, batch_norm_forward
from .pool import (adaptive_avg_pool2d_backward, adaptive_avg_pool2d_forward, adaptive_max_pool2d_backward,
                   adaptive_max_pool2d_forward, avg_pool2d_backward, avg_pool2d_forward, max_pool2d_backward,
                   max_pool2d_forward)
