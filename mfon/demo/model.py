"""Constants of the demo corpus's generative model (described in the package docstring, :mod:`mfon.demo`)."""

#: Weights of the per-modality latent factors in the overall label.
LABEL_WEIGHTS = {"T": 1.2, "A": 0.9, "V": 0.9}
#: Clip-level noise between a factor and what its modality renders.
RENDER_NOISE = {"T": 0.35, "A": 0.30, "V": 0.30}
#: Scale mapping a unit factor onto the [-3, 3] unimodal label.
UNIMODAL_SCALE = 1.5
#: |label| below this is annotated Neutral.
NEUTRAL_BAND = 0.5
LATENT_CLIP = 2.5
