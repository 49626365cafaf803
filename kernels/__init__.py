"""This bundle's kernel build matrix and GPU targets (FlashAttention-4, CuTe DSL).

Loaded by stacker through `stack.yaml: kernels: kernels`; the engine itself knows no GPU code.
"""
