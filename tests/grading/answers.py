"""Student answers to judge the checks with: classic mistakes, correct alternatives, and cheats.

For every question, keyed by id:

- ``WRONG``: answer cells built on a misconception, each with a piece of the diagnosis
  the student must get (so the check both rejects the answer and names the idea);
- ``RIGHT``: correct answers written differently from the solution and from each other
  (containers and types, precision, loops, vectorised or a matrix, keyword forms, letters'
  order and case), each of which must score full marks;
- ``CHEAT``: an answer that would be right but calls what the question forbids.

Each source replaces the question's answer cell (the one with ``### BEGIN SOLUTION``);
it runs after the notebook's imports (``np``, and in 04 ``torch``, ``nn``, ``F``).
"""

from __future__ import annotations

from convkit.grade.questions import QUESTIONS

FLIP = "visited backwards"
PLANTED = "still what the given implementation computes"

WRONG: dict[str, list[tuple[str, str]]] = {
    "01.q1": [
        (
            "def dense_weights(height, width, channels):\n    return height * width * channels",
            "number of inputs",
        ),
        ("def dense_weights(height, width, channels):\n    return (height * width) ** 2", "one channel only"),
    ],
    "01.q2": [
        ("def conv_params(c, d, h, w):\n    return d * c * h * w", "biases are missing"),
        ("def conv_params(c, d, h, w):\n    return d * h * w + d", "all the input channels"),
    ],
    "01.q3": [
        ("lecture_gigabytes = (256 * 256 * 3) ** 2 / 1e9", "4 bytes"),
        ("lecture_gigabytes = (256 * 256 * 3) ** 2 * 4 / 2 ** 30", "GiB"),
        ("lecture_gigabytes = (256 * 256) ** 2 * 4 / 1e9", "one channel only"),
        (
            "lecture_gigabytes = 155.0  # 3 significant digits: fewer than the question allows",
            "not the right answer",
        ),
    ],
    "01.q4": [
        ('sharing_choice = "B"\nsharing_why = "sharing"', "kernel as large as the image"),
        ('sharing_choice = "C"\nsharing_why = "?"', "is not the right choice"),
    ],
    "01.q5": [
        (
            "def largest_side(budget_bytes, channels):\n    n = 1\n    while (n * n * channels) ** 2 * 4 <= budget_bytes:\n"
            "        n += 1\n    return n",
            PLANTED,
        )
    ],
    "02.q1": [
        (
            "def conv1d_by_hand(x, u):\n    return np.convolve(x, u, 'valid') if False else "
            "np.array([np.dot(x[i:i + len(u)], u[::-1]) for i in range(len(x) - len(u) + 1)])",
            FLIP,
        ),
        (
            "def conv1d_by_hand(x, u):\n    return np.array([np.dot(x[i:i + len(u)], u) for i in range(len(x) - len(u))])",
            "last position is missing",
        ),
        (
            "def conv1d_by_hand(x, u):\n    p = np.pad(x, len(u) - 1)\n"
            "    return np.array([np.dot(p[i:i + len(u)], u) for i in range(len(p) - len(u) + 1)])",
            "full convolution",
        ),
    ],
    "02.q2": [("predicted_y = [-4.0, -1.0, 5.0, -5.0]", FLIP)],
    "02.q3": [("difference_kernel = [1, 0, -1]", FLIP), ("difference_kernel = [-1, 1]", "one apart")],
    "02.q4": [
        ('shift_choice = "a"\nshift_why = "same"', "invariance"),
        ('shift_choice = "C"\nshift_why = ""', "first outputs"),
    ],
    "02.q5": [
        (
            "def conv1d_fixed(x, u):\n    return np.array([np.dot(x[i:i + len(u)], u) for i in range(len(x) - len(u))])",
            PLANTED,
        ),
        (
            "def conv1d_fixed(x, u):\n    return np.array([np.dot(x[i:i + len(u)], u[::-1]) for i in range(len(x) - len(u) + 1)])",
            FLIP,
        ),
    ],
    "03.q1": [
        (
            "def conv2d_channels(x, weight):\n    D, C, h, w = weight.shape\n    _, H, W = x.shape\n"
            "    return np.array([[[np.sum(x[0, i:i + h, j:j + w] * weight[d, 0]) for j in range(W - w + 1)]"
            " for i in range(H - h + 1)] for d in range(D)])",
            "one channel only",
        ),
        (
            "def conv2d_channels(x, weight):\n    D, C, h, w = weight.shape\n    _, H, W = x.shape\n"
            "    return np.array([[[np.sum(x[:, i:i + h, j:j + w] * weight[d, :, ::-1, ::-1]) for j in range(W - w + 1)]"
            " for i in range(H - h + 1)] for d in range(D)])",
            FLIP,
        ),
    ],
    "03.q2": [
        ("changed_outputs = [[i, j] for i in (5, 6) for j in range(1, 5)]", "looked forward"),
        ("changed_outputs = [[i, j] for i in (4, 5) for j in range(-2, 2)]", "do not exist"),
    ],
    "03.q3": [('video_choice = "A"\nvideo_why = "channels"', "fits at one time only")],
    "03.q4": [
        (
            "def conv3d_single(x, u):\n    from numpy.lib.stride_tricks import sliding_window_view\n"
            "    return np.einsum('tijabc,abc->tij', sliding_window_view(x, u.shape), u[::-1, ::-1, ::-1])",
            FLIP,
        ),
        (
            "def conv3d_single(x, u):\n    from numpy.lib.stride_tricks import sliding_window_view\n"
            "    return np.einsum('tijabc,bc->tij', sliding_window_view(x, u.shape)[..., :1, :, :], u[0])",
            "first frame",
        ),
    ],
    "03.q5": [
        ("rows_read = [2, 3, 4]", "one layer"),
        ("rows_read = list(range(2, 11))", "overlap"),
        ("rows_read = list(range(-1, 6))", "not centred"),
    ],
    "04.q1": [
        ("chain_shape = [8, 26, 24, 4]", "right after the batch"),
        ("chain_shape = (8, 4, 23, 21)", "one row and one column short"),
        ("chain_shape = [8, 4, 24, 26]", "rows first"),
    ],
    "04.q2": [('conv3d_axes = "B"\nconv3d_why = "all"', "does not slide along them")],
    "04.q3": [
        ("layer = nn.Conv2d(16, 3, 5, bias=False)", "swapped"),
        ("layer = nn.Conv2d(3, 16, 5)", "has a bias"),
        (
            'layer = nn.Conv2d(3, 16, 5, padding="same", bias=False)',
            "`padding` is not what the question asks",
        ),
        (
            "layer = lambda x: torch.zeros(x.shape[0], 16, x.shape[2] - 4, x.shape[3] - 4)",
            "object of type function",
        ),
    ],
    "04.q4": [
        ('parameter_shapes = {"weight": [4, 6, 3, 2], "bias": [6]}', "(out_channels, in_channels"),
        ('parameter_shapes = {"weight": (6, 4, 3, 2)}', "unless it is created with bias=False"),
    ],
    "04.q5": [
        (
            "def filter_image(image, kernel):\n    layer = nn.Conv2d(1, 1, kernel.shape)\n    with torch.no_grad():\n"
            "        layer.weight[0, 0] = torch.as_tensor(kernel, dtype=torch.float32)\n"
            "        return layer(torch.as_tensor(image, dtype=torch.float32)[None, None])[0, 0].numpy()",
            "off by the same amount",
        ),
        (
            "def filter_image(image, kernel):\n    return F.conv2d(torch.as_tensor(image)[None, None], "
            "torch.as_tensor(kernel.copy()).flip(0, 1)[None, None])[0, 0].numpy()",
            FLIP,
        ),
    ],
    "05.q1": [
        (
            "import math\ndef output_size(n, k, s, p, d):\n    return math.ceil((n + 2 * p - d * (k - 1) - 1) / s) + 1",
            "rounded up",
        ),
        ("def output_size(n, k, s, p, d):\n    return (n + 2 * p - d * (k - 1) - 1) // s", "the + 1"),
        ("def output_size(n, k, s, p, d):\n    return (n + p - d * (k - 1) - 1) // s + 1", "both sides"),
        ("def output_size(n, k, s, p, d):\n    return (n + 2 * p - k) // s + 1", "spans more cells"),
        (
            "def output_size(n, k, s, p, d):\n    return (n + 2 * p - d * k) // s + 1",
            "no gap after its last tap",
        ),
    ],
    "05.q2": [
        (
            "def dilate_kernel(u, d):\n    out = np.zeros(d * len(u))\n    out[::d] = u\n    return out",
            "no zeros come after",
        ),
        (
            "def dilate_kernel(u, d):\n    out = np.zeros((d + 1) * (len(u) - 1) + 1)\n    out[::d + 1] = u\n    return out",
            "dilation 1 is the ordinary kernel",
        ),
    ],
    "05.q3": [
        (
            "def unread(n, k, s, p, d):\n    out = (n + 2 * p - d * (k - 1) - 1) // s + 1\n"
            "    read = {o * s - p + j * d for o in range(out) for j in range(k)}\n"
            "    return [i for i in range(-p, n + p) if i not in read]",
            "padding cells are not inputs",
        ),
        (
            "def unread(n, k, s, p, d):\n    out = (n + 2 * p - d * (k - 1) - 1) // s + 1\n"
            "    read = {o * s + j * d for o in range(out) for j in range(k)}\n    return [i for i in range(n) if i not in read]",
            "padded input",
        ),
        (
            "def unread(n, k, s, p, d):\n    out = (n + 2 * p - (k - 1) - 1) // s + 1\n"
            "    read = {o * s - p + j for o in range(out) for j in range(k)}\n    return [i for i in range(n) if i not in read]",
            "`dilation` cells apart",
        ),
    ],
    "05.q4": [
        (
            "def stack_field(layers):\n    return 1 + sum(d * (k - 1) for k, s, d in layers)",
            "strides of the layers below",
        ),
        (
            "def stack_field(layers):\n    field, jump = 1, 1\n    for k, s, d in layers:\n        jump *= s\n"
            "        field += d * (k - 1) * jump\n    return field",
            "own stride",
        ),
    ],
    "05.q5": [
        ('stride_choice = "A"\nstride_why = "moves"', "every other position"),
        ('stride_choice = "C"\nstride_why = ""', "invariant"),
    ],
    "06.q1": [
        ("ramp_response = [[-12, -24, -36]] * 3", FLIP),
        ("ramp_response = np.array([[4.0, 8, 12]] * 3)", "three rows"),
    ],
    "06.q2": [
        ("def noise_std(kernel, sigma):\n    return abs(float(np.sum(kernel))) * sigma", "flat region"),
        (
            "def noise_std(kernel, sigma):\n    return float(np.sum(np.square(kernel))) * sigma ** 2",
            "variance",
        ),
    ],
    "06.q3": [
        ('ncc_choice = ["B"]\nncc_why = "brighter"', "normalised cross-correlation at the two places"),
        ('ncc_choice = "AC"\nncc_why = ""', "brightness and the contrast"),
    ],
    "06.q4": [
        (
            "from numpy.lib.stride_tricks import sliding_window_view\n"
            "def find_template(image, template):\n"
            "    score = np.einsum('ijab,ab->ij', sliding_window_view(image, template.shape), template)\n"
            "    return [int(v) for v in np.unravel_index(np.argmax(score), score.shape)]",
            "unnormalised correlation",
        ),
        (
            "from numpy.lib.stride_tricks import sliding_window_view\n"
            "def find_template(image, template):\n"
            "    w = sliding_window_view(image, template.shape)\n    w = w - w.mean(axis=(2, 3), keepdims=True)\n"
            "    t = template - template.mean()\n"
            "    score = np.einsum('ijab,ab->ij', w, t) / np.sqrt((w ** 2).sum(axis=(2, 3)))\n"
            "    return [int(v) for v in np.unravel_index(np.argmax(score), score.shape)][::-1]",
            "row and column are swapped",
        ),
    ],
    "06.q5": [
        (
            "def ncc_at(window, patch):\n    p = patch - patch.mean()\n"
            "    return float(np.sum(window * p) / (np.linalg.norm(window) * np.linalg.norm(p)))",
            PLANTED,
        )
    ],
    "07.q1": [
        (
            "def grad_kernel_1d(x, g):\n    n = len(g)\n    return np.array([np.dot(x[j:j + n], g[::-1]) for j in range(len(x) - n + 1)])",
            "visited backwards",
        ),
        ("def grad_kernel_1d(x, g):\n    return float(np.sum(g))", "bias gradient"),
    ],
    "07.q2": [
        (
            "def grad_input_1d(g, u):\n    p = np.pad(g, len(u) - 1)\n"
            "    return np.array([np.dot(p[m:m + len(u)], u) for m in range(len(g) + len(u) - 1)])",
            "no flip",
        ),
        (
            "def grad_input_1d(g, u):\n    p = np.pad(g, (len(u) - 1, 0))\n"
            "    return np.array([np.dot(p[m:m + len(u)], u[::-1]) for m in range(len(p) - len(u) + 1)])",
            "one side only",
        ),
    ],
    "07.q3": [("grad_example = [4.0, 6.0, -2.0, -3.0]", "no flip"), ("grad_example = [-1.0, 0.0]", "∂L/∂u")],
    "07.q4": [
        ("zero_grad_inputs = [2, 5, 8]", "one window too many"),
        ("zero_grad_inputs = [2, 5, 6, 7, 8, 9]", "one window too few"),
    ],
    "07.q5": [
        (
            "def grad_input_2d(g, u):\n    h, w = u.shape\n    p = np.pad(g, ((h - 1, h - 1), (w - 1, w - 1)))\n"
            "    from numpy.lib.stride_tricks import sliding_window_view\n"
            "    return np.einsum('ijab,ab->ij', sliding_window_view(p, u.shape), u[::-1])",
            PLANTED,
        ),
        (
            "def grad_input_2d(g, u):\n    h, w = u.shape\n    p = np.pad(g, ((h - 1, h - 1), (w - 1, w - 1)))\n"
            "    from numpy.lib.stride_tricks import sliding_window_view\n"
            "    return np.einsum('ijab,ab->ij', sliding_window_view(p, u.shape), u)",
            "no flip",
        ),
    ],
}

#: Correct answers written the way students write them: at least three per question, each of a
#: different kind from the solution and from each other (container or type, precision, loops vs
#: vectorised vs a matrix, keyword forms, letter order and case). Every one must score full marks.
RIGHT: dict[str, list[str]] = {
    "01.q1": [
        "def dense_weights(height, width, channels):\n    return int(np.prod([height, width, channels])) ** 2",
        "def dense_weights(height, width, channels):\n    return pow(height * width * channels, 2)",
        "def dense_weights(height, width, channels):\n    return np.int64(height * width * channels) ** 2",
    ],
    "01.q2": [
        "def conv_params(c, d, h, w):\n    weights = d * c * h * w\n    return weights + d",
        "def conv_params(in_channels, out_channels, kernel_height, kernel_width):\n"
        "    return (in_channels * kernel_height * kernel_width + 1) * out_channels",
        "def conv_params(*settings):\n    c, d, h, w = settings\n    return int(np.prod([d, c, h, w]) + d)",
    ],
    "01.q3": [
        "lecture_gigabytes = 154.62",
        "lecture_gigabytes = 154.6  # the 4 significant digits the question allows",
        "lecture_gigabytes = np.float32(154.618)",
        "lecture_gigabytes = 9 * 2 ** 34 / 10 ** 9",
    ],
    "01.q4": [
        'sharing_choice = ["b", "a"]\nsharing_why = "small kernels, used everywhere"',
        'sharing_choice = "AB"\nsharing_why = "local and shared"',
        'sharing_choice = ("A", "B")\nsharing_why = "local and shared"',
        'sharing_choice = "b,a"\nsharing_why = "local and shared"',
    ],
    "01.q5": [
        "def largest_side(budget_bytes, channels):\n    n = int((budget_bytes / 4) ** 0.25 / channels ** 0.5) + 2\n"
        "    while n > 0 and (n * n * channels) ** 2 * 4 > budget_bytes:\n        n -= 1\n    return n",
        "import math\ndef largest_side(budget_bytes, channels):\n"
        "    return math.isqrt(math.isqrt(budget_bytes // 4) // channels)",
        "def largest_side(budget_bytes, channels):\n    for n in range(10 ** 6):\n"
        "        if ((n + 1) ** 2 * channels) ** 2 * 4 > budget_bytes:\n            return n",
    ],
    "02.q1": [
        "from numpy.lib.stride_tricks import sliding_window_view\n"
        "def conv1d_by_hand(x, u):\n    return sliding_window_view(x, len(u)) @ u",
        "def conv1d_by_hand(x, u):\n"
        "    return np.array([sum(x[i + j] * u[j] for j in range(len(u))) for i in range(len(x) - len(u) + 1)])",
        "def conv1d_by_hand(x, u):\n    W, w = len(x), len(u)\n    A = np.zeros((W - w + 1, W))\n"
        "    for i in range(W - w + 1):\n        A[i, i:i + w] = u\n    return A @ x",
        "def conv1d_by_hand(x, u):\n    index = np.arange(len(x) - len(u) + 1)[:, None] + np.arange(len(u))\n"
        "    return x[index] @ u",
    ],
    "02.q2": [
        "predicted_y = (2, 2, -7, 1)",
        "predicted_y = np.array([2, 2, -7, 1])",
        "predicted_y = list(np.array([2, 2, -7, 1], dtype=np.float32))",
    ],
    "02.q3": [
        "difference_kernel = np.array([-1, 0, 1])",
        "difference_kernel = (-1, 0, 1)",
        "import torch\ndifference_kernel = torch.tensor([-1.0, 0.0, 1.0])",
    ],
    "02.q4": [
        'shift_choice = " b "\nshift_why = "equivariant away from the border"',
        'shift_choice = ["B"]\nshift_why = "equivariance"',
        'shift_choice = ("b",)\nshift_why = "equivariance"',
    ],
    "02.q5": [
        "def conv1d_fixed(x, u):\n    W, w = len(x), len(u)\n    y = np.zeros(W - w + 1)\n"
        "    for i in range(W - w + 1):\n        for j in range(w):\n            y[i] += x[i + j] * u[j]\n    return y",
        "from numpy.lib.stride_tricks import sliding_window_view\n"
        "def conv1d_fixed(x, u):\n    return sliding_window_view(x, len(u)) @ u",
        "def conv1d_fixed(x, u):\n    return np.array([x[i:i + len(u)] @ u for i in range(len(x) - len(u) + 1)])",
    ],
    "03.q1": [
        "from numpy.lib.stride_tricks import sliding_window_view\n"
        "def conv2d_channels(x, weight):\n    windows = sliding_window_view(x, weight.shape[1:])[0]\n"
        "    return np.einsum('ijchw,dchw->dij', windows, weight)",
        "def conv2d_channels(x, weight):\n    D, C, h, w = weight.shape\n    H, W = x.shape[1] - h + 1, x.shape[2] - w + 1\n"
        "    y = np.zeros((D, H, W))\n    for d in range(D):\n        for c in range(C):\n"
        "            for a in range(h):\n                for b in range(w):\n"
        "                    y[d] += weight[d, c, a, b] * x[c, a:a + H, b:b + W]\n    return y",
        "from numpy.lib.stride_tricks import sliding_window_view\n"
        "def conv2d_channels(x, weight):\n    D = weight.shape[0]\n"
        "    windows = sliding_window_view(x, weight.shape[1:])[0]\n    H, W = windows.shape[:2]\n"
        "    columns = windows.reshape(H * W, -1)\n"
        "    return (columns @ weight.reshape(D, -1).T).reshape(H, W, D).transpose(2, 0, 1)",
    ],
    "03.q2": [
        "changed_outputs = [(5, 1), (5, 0), (4, 1), (4, 0)]",
        "changed_outputs = {(4, 0), (4, 1), (5, 0), (5, 1)}",
        "changed_outputs = np.array([[4, 0], [4, 1], [5, 0], [5, 1]])",
        "changed_outputs = [np.array([i, j]) for i in (4, 5) for j in (0, 1)]",
    ],
    "03.q3": [
        'video_choice = ["B"]\nvideo_why = "time is a metric axis"',
        'video_choice = "b"\nvideo_why = "slides along time"',
        'video_choice = "B "\nvideo_why = "slides along time"',
    ],
    "03.q4": [
        "def conv3d_single(x, u):\n    q, h, w = u.shape\n    T, H, W = x.shape\n"
        "    y = np.zeros((T - q + 1, H - h + 1, W - w + 1))\n"
        "    for a in range(q):\n        for b in range(h):\n            for c in range(w):\n"
        "                y += u[a, b, c] * x[a:a + T - q + 1, b:b + H - h + 1, c:c + W - w + 1]\n    return y",
        "def conv3d_single(x, u):\n    q, h, w = u.shape\n    out = np.zeros((x.shape[0] - q + 1, x.shape[1] - h + 1, x.shape[2] - w + 1))\n"
        "    for t in range(out.shape[0]):\n        for i in range(out.shape[1]):\n            for j in range(out.shape[2]):\n"
        "                out[t, i, j] = np.sum(x[t:t + q, i:i + h, j:j + w] * u)\n    return out",
        "from numpy.lib.stride_tricks import sliding_window_view\n"
        "def conv3d_single(x, u):\n    windows = sliding_window_view(x, u.shape)\n"
        "    return windows.reshape(*windows.shape[:3], -1) @ u.ravel()",
    ],
    "03.q5": [
        "rows_read = list(range(8, 1, -1))",
        "rows_read = range(2, 9)",
        "rows_read = np.arange(2, 9)",
        "rows_read = set(range(2, 9))",
    ],
    "04.q1": [
        "chain_shape = (8, 4, 26, 24)",
        "chain_shape = torch.Size([8, 4, 26, 24])",
        "chain_shape = np.array([8, 4, 26, 24])",
    ],
    "04.q2": [
        'conv3d_axes = "a"\nconv3d_why = "not along channels"',
        'conv3d_axes = ["A"]\nconv3d_why = "time, rows and columns"',
        'conv3d_axes = (" a",)\nconv3d_why = "time, rows and columns"',
    ],
    "04.q3": [
        "layer = nn.Conv2d(in_channels=3, out_channels=16, kernel_size=(5, 5), bias=False)",
        'layer = nn.Conv2d(3, 16, (5, 5), padding="valid", bias=False)',
        "layer = nn.Conv2d(3, 16, 5, stride=1, padding=0, dilation=1, groups=1, bias=False)",
        'layer = nn.Conv2d(3, 16, kernel_size=[5, 5], stride=(1, 1), padding=(0, 0), bias=False, padding_mode="zeros")',
    ],
    "04.q4": [
        'parameter_shapes = {"bias": (6,), "weight": (6, 4, 3, 2)}',
        "from collections import OrderedDict\n"
        'parameter_shapes = OrderedDict([("weight", [6, 4, 3, 2]), ("bias", [6])])',
        'parameter_shapes = {"weight": torch.Size([6, 4, 3, 2]), "bias": torch.Size([6])}',
        "parameter_shapes = dict(weight=[6, 4, 3, 2], bias=[6])",
    ],
    "04.q5": [
        "def filter_image(image, kernel):\n    x = torch.as_tensor(image, dtype=torch.float64)[None, None]\n"
        "    return F.conv2d(x, torch.as_tensor(kernel, dtype=torch.float64)[None, None])[0, 0].numpy()",
        "def filter_image(image, kernel):\n    layer = nn.Conv2d(1, 1, kernel.shape)\n    with torch.no_grad():\n"
        "        layer.weight[0, 0] = torch.as_tensor(kernel, dtype=torch.float32)\n        layer.bias.zero_()\n"
        "        out = layer(torch.as_tensor(image, dtype=torch.float32)[None, None])\n    return out[0, 0].numpy()",
        "from numpy.lib.stride_tricks import sliding_window_view\n"
        "def filter_image(image, kernel):\n    return np.einsum('ijab,ab->ij', sliding_window_view(image, kernel.shape), kernel)",
    ],
    "05.q1": [
        "import math\ndef output_size(n, k, s, p, d):\n    return math.floor((n + 2 * p - (d * (k - 1) + 1)) / s) + 1",
        "def output_size(size, kernel_size, stride, padding, dilation):\n    count, start = 0, 0\n"
        "    while start + dilation * (kernel_size - 1) < size + 2 * padding:\n        count += 1\n        start += stride\n"
        "    return count",
        "def output_size(size, kernel_size, stride, padding, dilation):\n"
        "    return len(range(0, size + 2 * padding - dilation * (kernel_size - 1), stride))",
    ],
    "05.q2": [
        "def dilate_kernel(u, d):\n    out = []\n    for i, value in enumerate(u):\n        if i:\n"
        "            out += [0.0] * (d - 1)\n        out.append(float(value))\n    return np.array(out)",
        "def dilate_kernel(u, dilation):\n    return np.kron(u, np.eye(1, dilation)[0])[: dilation * (len(u) - 1) + 1]",
        "def dilate_kernel(u, dilation):\n    span = dilation * (len(u) - 1) + 1\n"
        "    return np.array([u[i // dilation] if i % dilation == 0 else 0.0 for i in range(span)])",
    ],
    "05.q3": [
        "def unread(n, k, s, p, d):\n    read = set()\n    start = -p\n"
        "    while start + d * (k - 1) <= n - 1 + p:\n        read.update(start + j * d for j in range(k))\n"
        "        start += s\n    return sorted(set(range(n)) - read)",
        "def unread(size, kernel_size, stride, padding, dilation):\n"
        "    starts = np.arange(output_size(size, kernel_size, stride, padding, dilation)) * stride - padding\n"
        "    read = (starts[:, None] + np.arange(kernel_size) * dilation).ravel()\n"
        "    return np.setdiff1d(np.arange(size), read)",
        "def unread(size, kernel_size, stride, padding, dilation):\n    seen = [False] * size\n"
        "    for o in range(output_size(size, kernel_size, stride, padding, dilation)):\n"
        "        for j in range(kernel_size):\n            i = o * stride - padding + j * dilation\n"
        "            if 0 <= i < size:\n                seen[i] = True\n"
        "    return [i for i, was in enumerate(seen) if not was]",
    ],
    "05.q4": [
        "def stack_field(layers):\n    span = 1\n    for k, s, d in reversed(layers):\n"
        "        span = (span - 1) * s + d * (k - 1) + 1\n    return span",
        "def stack_field(layers):\n    jumps = np.cumprod([1] + [s for _, s, _ in layers[:-1]])\n"
        "    return int(1 + sum(d * (k - 1) * j for (k, _, d), j in zip(layers, jumps)))",
        "def stack_field(layers):\n    total = 1\n    for i, (k, s, d) in enumerate(layers):\n        below = 1\n"
        "        for _, s_below, _ in layers[:i]:\n            below *= s_below\n        total += d * (k - 1) * below\n"
        "    return total",
    ],
    "05.q5": [
        'stride_choice = "b"\nstride_why = "windows land between the old ones"',
        'stride_choice = ["b"]\nstride_why = "only shifts by the stride"',
        'stride_choice = "B\\n"\nstride_why = "only shifts by the stride"',
    ],
    "06.q1": [
        "ramp_response = np.tile([12.0, 24.0, 36.0], (3, 1))",
        "ramp_response = [[12.0, 24.0, 36.0]] * 3",
        "import torch\nramp_response = torch.tensor([[12, 24, 36]] * 3)",
        "ramp_response = ((12, 24, 36), (12, 24, 36), (12, 24, 36))",
    ],
    "06.q2": [
        "def noise_std(kernel, sigma):\n    return float(np.linalg.norm(kernel) * sigma)",
        "import math\ndef noise_std(kernel, sigma):\n    return math.sqrt(sum(v * v for v in np.ravel(kernel))) * sigma",
        "def noise_std(kernel, sigma):\n    return np.sqrt((np.asarray(kernel) ** 2).sum()) * sigma",
    ],
    "06.q3": [
        'ncc_choice = "B, A"\nncc_why = "normalisation removes brightness"',
        'ncc_choice = "ab"\nncc_why = "normalisation removes brightness"',
        'ncc_choice = ["A", "B"]\nncc_why = "normalisation removes brightness"',
        'ncc_choice = "a b"\nncc_why = "normalisation removes brightness"',
    ],
    "06.q4": [
        "def find_template(image, template):\n    h, w = template.shape\n    best, where = np.inf, None\n"
        "    for i in range(image.shape[0] - h + 1):\n        for j in range(image.shape[1] - w + 1):\n"
        "            cost = np.sum((image[i:i + h, j:j + w] - template) ** 2)\n"
        "            if cost < best:\n                best, where = cost, [i, j]\n    return where",
        "def find_template(image, template):\n    h, w = template.shape\n    t = template - template.mean()\n"
        "    best, where = -np.inf, None\n    for i in range(image.shape[0] - h + 1):\n"
        "        for j in range(image.shape[1] - w + 1):\n            v = image[i:i + h, j:j + w]\n"
        "            v = v - v.mean()\n            score = np.sum(v * t) / (np.linalg.norm(v) * np.linalg.norm(t) + 1e-12)\n"
        "            if score > best:\n                best, where = score, (i, j)\n    return where",
        "from numpy.lib.stride_tricks import sliding_window_view\n"
        "def find_template(image, template):\n    windows = sliding_window_view(image, template.shape)\n"
        "    cost = ((windows - template) ** 2).sum(axis=(-2, -1))\n"
        "    return tuple(np.unravel_index(np.argmin(cost), cost.shape))",
    ],
    "06.q5": [
        "def ncc_at(window, patch):\n    a = (window - window.mean()) / window.std()\n    b = (patch - patch.mean()) / patch.std()\n"
        "    return float(np.mean(a * b))",
        "def ncc_at(window, patch):\n    return np.corrcoef(np.ravel(window), np.ravel(patch))[0, 1]",
        "def ncc_at(window, patch):\n    w, p = window - window.mean(), patch - patch.mean()\n"
        "    return float(np.einsum('ij,ij->', w, p) / np.sqrt(np.einsum('ij,ij->', w, w) * np.einsum('ij,ij->', p, p)))",
    ],
    "07.q1": [
        "from numpy.lib.stride_tricks import sliding_window_view\n"
        "def grad_kernel_1d(x, g):\n    return sliding_window_view(x, len(g)) @ g",
        "def grad_kernel_1d(x, g):\n"
        "    return np.array([sum(x[j + i] * g[i] for i in range(len(g))) for j in range(len(x) - len(g) + 1)])",
        "def grad_kernel_1d(x, g):\n    X = np.array([x[j:j + len(g)] for j in range(len(x) - len(g) + 1)])\n    return X @ g",
    ],
    "07.q2": [
        "def grad_input_1d(g, u):\n    p = np.pad(g, len(u) - 1)\n"
        "    return np.array([np.dot(p[m:m + len(u)], u[::-1]) for m in range(len(g) + len(u) - 1)])",
        "def grad_input_1d(g, u):\n    A = np.zeros((len(g), len(g) + len(u) - 1))\n"
        "    for i in range(len(g)):\n        A[i, i:i + len(u)] = u\n    return A.T @ g",
        "def grad_input_1d(g, u):\n    out = np.zeros(len(g) + len(u) - 1)\n"
        "    for j, weight in enumerate(u):\n        out[j:j + len(g)] += weight * g\n    return out",
    ],
    "07.q3": [
        "grad_example = np.array([6, 4, -3, -2])",
        "grad_example = (6, 4, -3, -2)",
        "import torch\ngrad_example = torch.tensor([6.0, 4.0, -3.0, -2.0])",
    ],
    "07.q4": [
        "zero_grad_inputs = (9, 8, 5, 2)",
        "zero_grad_inputs = np.array([2, 5, 8, 9])",
        "zero_grad_inputs = {2, 5, 8, 9}",
        "zero_grad_inputs = [i for i in range(10) if i % 3 == 2] + [9]",
    ],
    "07.q5": [
        "def grad_input_2d(g, u):\n    out = np.zeros((g.shape[0] + u.shape[0] - 1, g.shape[1] + u.shape[1] - 1))\n"
        "    for i in range(g.shape[0]):\n        for j in range(g.shape[1]):\n"
        "            out[i:i + u.shape[0], j:j + u.shape[1]] += g[i, j] * u\n    return out",
        "from numpy.lib.stride_tricks import sliding_window_view\n"
        "def grad_input_2d(g, u):\n    h, w = u.shape\n    p = np.pad(g, ((h - 1, h - 1), (w - 1, w - 1)))\n"
        "    return np.einsum('ijab,ab->ij', sliding_window_view(p, u.shape), np.rot90(u, 2))",
        "def grad_input_2d(g, u):\n    h, w = u.shape\n    p = np.pad(g, ((h - 1, h - 1), (w - 1, w - 1)))\n"
        "    flipped = u[::-1, ::-1]\n    out = np.zeros((p.shape[0] - h + 1, p.shape[1] - w + 1))\n"
        "    for a in range(h):\n        for b in range(w):\n"
        "            out += flipped[a, b] * p[a:a + out.shape[0], b:b + out.shape[1]]\n    return out",
    ],
}

#: Questions whose answers may call the student's answer to an earlier question of the notebook (the bank's).
USES: dict[str, str] = {q.id: q.uses[0] for q in QUESTIONS if q.uses}

#: Right answers through a forbidden call (implement and debug questions that forbid something).
CHEAT: dict[str, str] = {
    "01.q1": "from convkit import shapes\ndef dense_weights(h, w, c):\n    return shapes.dense_parameter_count(h * w * c, h * w * c, bias=False)",
    "01.q2": "from convkit.shapes import conv_parameter_count as count\ndef conv_params(c, d, h, w):\n    return count(c, d, (h, w))",
    "01.q5": "from convkit import shapes\ndef largest_side(b, c):\n    n = 0\n"
    "    while shapes.memory_bytes(((n + 1) ** 2 * c) ** 2, 'float32') <= b:\n        n += 1\n    return n",
    "02.q1": "import numpy\ndef conv1d_by_hand(x, u):\n    return numpy.correlate(x, u, 'valid')",
    "02.q5": "from torch.nn.functional import conv1d as c\nimport torch\n"
    "def conv1d_fixed(x, u):\n    return c(torch.as_tensor(x)[None, None], torch.as_tensor(u)[None, None])[0, 0].numpy()",
    "03.q1": "import torch\nimport torch.nn.functional as F\n"
    "def conv2d_channels(x, weight):\n    return F.conv2d(torch.as_tensor(x)[None], torch.as_tensor(weight))[0].numpy()",
    "03.q4": "import torch\ndef conv3d_single(x, u):\n"
    "    return torch.ops.aten.conv3d(torch.as_tensor(x)[None, None], torch.as_tensor(u)[None, None])[0, 0].numpy()",
    "05.q1": "from convkit import shapes\ndef output_size(n, k, s, p, d):\n    return shapes.conv_output_size(n, k, s, p, d)",
    "05.q2": "import torch\ndef dilate_kernel(u, d):\n    layer = torch.nn.Conv1d(1, 1, 1)\n    return u",
    "05.q3": "from convkit import shapes\ndef unread(n, k, s, p, d):\n    return list(shapes.unread_positions(n, k, stride=s, padding=p, dilation=d))",
    "05.q4": "from convkit import shapes\ndef stack_field(layers):\n    return shapes.receptive_field(list(layers)).size",
    "06.q2": "import scipy.ndimage\ndef noise_std(kernel, sigma):\n    scipy.ndimage.correlate(np.zeros((3, 3)), kernel)\n"
    "    return float(np.linalg.norm(kernel) * sigma)",
    "06.q4": "import torch\nimport torch.nn.functional as F\ndef find_template(image, template):\n"
    "    h, w = template.shape\n    cols = F.unfold(torch.as_tensor(image)[None, None], (h, w))[0].T.numpy()\n"
    "    c = cols - cols.mean(1, keepdims=True)\n    t = (template - template.mean()).ravel()\n"
    "    score = c @ t / (np.linalg.norm(c, axis=1) * np.linalg.norm(t) + 1e-12)\n"
    "    k, width = int(np.argmax(score)), image.shape[1] - w + 1\n    return [k // width, k % width]",
    # scipy.signal imported inside the answer: a forbidden module not imported before the answer runs
    "06.q5": "def ncc_at(window, patch):\n    import scipy.signal\n    w, p = window - window.mean(), patch - patch.mean()\n"
    "    return float(scipy.signal.correlate(w, p, 'valid').item() / (np.linalg.norm(w) * np.linalg.norm(p)))",
    "07.q1": "import torch.nn.functional as F\nimport torch\ndef grad_kernel_1d(x, g):\n"
    "    return F.conv1d(torch.as_tensor(x)[None, None], torch.as_tensor(g)[None, None])[0, 0].numpy()",
    "07.q2": "import torch.nn.functional as F\nimport torch\ndef grad_input_1d(g, u):\n"
    "    return F.conv_transpose1d(torch.as_tensor(g)[None, None], torch.as_tensor(u)[None, None])[0, 0].numpy()",
    "07.q5": "import torch.nn.functional as F\nimport torch\ndef grad_input_2d(g, u):\n"
    "    return F.conv_transpose2d(torch.as_tensor(g)[None, None], torch.as_tensor(u)[None, None])[0, 0].numpy()",
}
