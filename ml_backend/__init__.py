"""The Label Studio ML backend: a FastAPI app speaking Label Studio's ML backend protocol
(/health, /setup, /predict, /webhook) and the predictors behind it (CLIP zero-shot, fastai).
Keeps the protocol thin; the models live in ``winnow``."""
