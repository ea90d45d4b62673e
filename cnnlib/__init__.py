"""CNN Lab's core: layer arithmetic, the model registry, datasets, training and inference.

Nothing here imports Streamlit; the pages in `pages/` draw what these modules compute.
Importing the package itself is cheap: TensorFlow loads only when a module that needs it does.
"""
