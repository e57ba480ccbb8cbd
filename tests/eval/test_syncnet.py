"""SyncNet v2: public file layout, strict loading, embedding shapes and loader errors (random weights)."""
from collections import OrderedDict

import pytest
import torch

from nets import randomize_norms
from playmate_core.eval.syncnet import CLI_FLAG, SYNCNET_FILE, SyncNet, load_syncnet
from playmate_core.loading import CheckpointError

# Key names and shapes read from the reference definition (joonson/syncnet_python SyncNetModel.S,
# the layout of syncnet_v2.model): Sequential positions count the ReLU and pooling slots.
PUBLIC_SHAPES = {
    "netcnnaud.0.weight": (64, 1, 3, 3),
    "netcnnaud.4.weight": (192, 64, 3, 3),
    "netcnnaud.18.weight": (512, 256, 5, 4),
    "netcnnaud.19.running_var": (512,),
    "netfcaud.0.weight": (512, 512),
    "netfcaud.3.weight": (1024, 512),
    "netcnnlip.0.weight": (96, 3, 5, 7, 7),
    "netcnnlip.4.weight": (256, 96, 1, 5, 5),
    "netcnnlip.18.weight": (512, 256, 1, 6, 6),
    "netfclip.1.running_mean": (512,),
    "netfclip.3.bias": (1024,),
}
N_PUBLIC_KEYS = 102          # 12 convs x 2 + 14 BatchNorms x 5 + 4 linears x 2


def random_public_state(seed: int = 0) -> OrderedDict:
    """A random SyncNet state dict exactly as the public file holds it (plain OrderedDict)."""
    torch.manual_seed(seed)
    net = SyncNet()
    randomize_norms(net, seed + 1)
    return OrderedDict(net.state_dict())


@pytest.fixture(scope="module")
def public_state():
    return random_public_state()


@pytest.fixture(scope="module")
def public_file(tmp_path_factory, public_state):
    path = tmp_path_factory.mktemp("syncnet") / SYNCNET_FILE
    torch.save(public_state, path)
    return path


@pytest.fixture(scope="module")
def reference_model(public_state):
    net = SyncNet()
    net.load_state_dict(public_state)
    return net.eval()


def test_module_keys_are_the_public_layout(public_state):
    assert len(public_state) == N_PUBLIC_KEYS
    for key, shape in PUBLIC_SHAPES.items():
        assert tuple(public_state[key].shape) == shape, key
    prefixes = {k.split(".")[0] for k in public_state}
    assert prefixes == {"netcnnaud", "netfcaud", "netcnnlip", "netfclip"}


def test_loaded_model_reproduces_saved_model(public_file, public_state, reference_model):
    model = load_syncnet(public_file)
    assert not model.training
    assert all(p.dtype == torch.float32 for p in model.parameters())
    for key, value in model.state_dict().items():
        assert torch.equal(value, public_state[key]), key
    g = torch.Generator().manual_seed(3)
    lips = torch.rand(2, 3, 5, 224, 224, generator=g) * 255
    mfcc = torch.randn(2, 1, 13, 20, generator=g) * 10
    with torch.no_grad():
        v, a = model(lips, mfcc)
        v_ref, a_ref = reference_model(lips, mfcc)
    assert v.shape == (2, 1024) and a.shape == (2, 1024)
    assert torch.equal(v, v_ref) and torch.equal(a, a_ref)
    assert not torch.allclose(v[0], v[1])             # the input reaches the output


def test_embedding_shapes_for_one_window(reference_model):
    with torch.no_grad():
        assert reference_model.embed_lip(torch.zeros(1, 3, 5, 224, 224)).shape == (1, 1024)
        assert reference_model.embed_audio(torch.zeros(3, 1, 13, 20)).shape == (3, 1024)


def test_wrapper_prefix_and_files_without_batch_counters_load(tmp_path, public_state):
    old_style = OrderedDict((f"__S__.{k}", v) for k, v in public_state.items()
                            if not k.endswith("num_batches_tracked"))
    path = tmp_path / SYNCNET_FILE
    torch.save(old_style, path)
    model = load_syncnet(path)
    assert torch.equal(model.state_dict()["netfclip.3.weight"], public_state["netfclip.3.weight"])
    assert int(model.state_dict()["netcnnlip.1.num_batches_tracked"]) == 0


def test_missing_key_names_key_file_and_flag(tmp_path, public_state):
    broken = OrderedDict((k, v) for k, v in public_state.items() if k != "netfclip.3.bias")
    path = tmp_path / SYNCNET_FILE
    torch.save(broken, path)
    with pytest.raises(CheckpointError) as err:
        load_syncnet(path)
    message = str(err.value)
    assert "netfclip.3.bias" in message and str(path) in message
    assert SYNCNET_FILE in message and CLI_FLAG in message


def test_wrong_shape_is_refused(tmp_path, public_state):
    broken = OrderedDict(public_state)
    broken["netcnnaud.18.weight"] = torch.zeros(512, 256, 4, 4)
    path = tmp_path / "other.model"
    torch.save(broken, path)
    with pytest.raises(CheckpointError, match=r"netcnnaud\.18\.weight.*\(512, 256, 4, 4\)"):
        load_syncnet(path)


def test_not_a_state_dict_is_refused(tmp_path):
    path = tmp_path / SYNCNET_FILE
    torch.save(torch.zeros(3), path)
    with pytest.raises(CheckpointError, match="not a state dict"):
        load_syncnet(path)


def test_missing_file_names_public_file_and_flag(tmp_path):
    path = tmp_path / "nowhere" / SYNCNET_FILE
    with pytest.raises(FileNotFoundError) as err:
        load_syncnet(path)
    message = str(err.value)
    assert str(path) in message and SYNCNET_FILE in message and CLI_FLAG in message
    assert "robots.ox.ac.uk" in message
