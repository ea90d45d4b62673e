"""Your own data: import a set of the student's own pictures, train any network on it with the
same live trainer as the MNIST and CIFAR-10 pages (live curves, layer view, test stream,
results and mistakes), and look inside the models it makes. A stored set is a dataset profile
of its own (`cnnlib.profiles.from_stored`), with a network chosen for its image size.
"""

import streamlit as st

from cnnlib import own_data, profiles
from cnnlib.i18n import _
from views import _cifar_widgets as live
from views import _share, _state
from views._datasets import page_dataset
from views._insight import look_inside
from views._models import model_panel
from views._own_data_stored import stored_caption, stored_set_picker
from views._own_data_widgets import own_data_panel
from views._trainer import trainer

st.title(_("Your own data"))
st.caption(
    _(
        "Bring your own pictures: a zip with one folder of images per class, or a .npz of "
        "arrays. Check what the upload holds, import it at the size you choose, then train on "
        "it exactly as on MNIST and CIFAR-10."
    )
)
_share.open_trainer_link("own", datasets=[info.name for info in own_data.list_stored()])
info = stored_set_picker(
    "own_w_dataset", st.session_state[_state.OWN_DATA_IMPORTED], _state.OWN_FOLLOWED
)
import_tab, train_tab, inside_tab, models_tab = st.tabs(
    [_("Import"), _("Train"), _("Look inside a model"), _("Models")]
)

with import_tab:
    own_data_panel(_state.OWN_DATA)

if info is None:
    with train_tab:
        st.info(
            _(
                "No stored set yet. Import one in the Import tab (or take the example there): "
                "it stays in CNN Lab's data folder for later sessions."
            )
        )
    st.stop()

profile = profiles.from_stored(info)
with models_tab:
    model_panel("own", info.dataset_name, profile.input_shape, profile.num_classes)

with train_tab:
    dataset = page_dataset(info.dataset_name)
    st.caption(stored_caption(info))
    trainer(
        "own",
        profile,
        dataset,
        live_panels={
            _("Network, layer by layer"): live.network_view,
            _("Test images"): live.test_stream,
        },
    )

with inside_tab:
    look_inside("own", profile.input_shape, profile.num_classes, info.dataset_name, info.title)
