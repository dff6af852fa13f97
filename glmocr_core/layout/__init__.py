"""PP-DocLayoutV3, the layout model that splits a page into regions (text, table, formula, picture ...) in reading
order, and the official GLM-OCR SDK's post-processing of its detections. Pure PyTorch + safetensors; the weights are
the published ``PaddlePaddle/PP-DocLayoutV3_safetensors`` files, loaded by their own tensor names.

Entry point: :class:`glmocr_core.layout.detector.LayoutDetector`."""
