"""Using a trained model: inference on new audio (:mod:`.predict`) and ONNX export (:mod:`.export`).

Both stand on :mod:`.session` (onnxruntime) and :mod:`sertune.training.checkpoint`
(the self-describing model file); neither imports the other.
"""
