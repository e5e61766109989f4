"""check-data rules (ND1xx)."""

from nandoctor.catalogue import Rule

RULES = [
    Rule(
        code="ND100",
        title="unreadable data file",
        why="A label or tensor file that cannot be parsed is skipped or crashes the loader; what the "
        "loader does read instead may be garbage. Ultralytics 8.4 drops the image ('ignoring corrupt "
        "image/label') when its label is not UTF-8 or holds binary bytes.",
        fix="Regenerate or re-export the file; check that its extension matches its content; save text as UTF-8.",
        bad="labels/train/img_1.txt that holds JPEG bytes",
        good="a UTF-8 text file with one `cls cx cy w h` row per object",
        check="nandoctor.data.yolo:_vet",
    ),
    Rule(
        code="ND101",
        title="class id out of range",
        why="A class id that is negative or >= the number of classes indexes past the classification "
        "head: on GPU a device-side assert, on CPU a garbage one-hot target and an inf/NaN loss "
        "(label 101 with num_classes 101). Ultralytics 8.4 drops the image: 'negative label values' or "
        "'Label class N exceeds dataset class count'.",
        fix="Fix the label, or make `nc`/`names` in data.yaml match the classes the labels use.",
        bad="data.yaml nc: 3 and a label row `5 0.3 0.3 0.1 0.1`",
        good="every class id in 0..nc-1 (`2 0.3 0.3 0.1 0.1`)",
        check="nandoctor.data.yolo_checks:_check_class",
    ),
    Rule(
        code="ND102",
        title="class id is not an integer",
        why="Ultralytics 8.4 drops the whole image ('non-integer class labels'); loaders that cast to int "
        "silently train `1.7` as class 1. Either way the labels are not what the annotator meant and the "
        "conversion script that wrote them is probably broken.",
        fix="Write class ids as integers; check the export script's column order.",
        bad="`1.7 0.5 0.5 0.2 0.2` (columns shifted or a coordinate in the class column)",
        good="`1 0.5 0.5 0.2 0.2`",
        check="nandoctor.data.yolo_checks:_check_class",
    ),
    Rule(
        code="ND103",
        title="wrong number of columns",
        why="Ultralytics 8.4 drops the whole image when a row has the wrong column count for the task "
        "('labels require 5 columns'), or when a line break other than \\n (\\x0b, \\x0c, a lone \\r) "
        "cuts a row in two; other loaders reshape the numbers into the wrong boxes. A whitespace-only "
        "line between rows is a warning: 8.4 skips it, older releases dropped the image; so are whole rows "
        "split by such a break (8.4 reads them as rows, a loader splitting on \\n reads one).",
        fix="detect: `cls cx cy w h`; segment: `cls x1 y1 ... xn yn` (even count); pose: 5 + kpts*dims; "
        "obb: `cls x1 y1 ... x4 y4`.",
        bad="`0 0.5 0.5 0.2` (4 columns in a detect label)",
        good="`0 0.5 0.5 0.2 0.3`",
        check="nandoctor.data.yolo_checks:check_rows",
    ),
    Rule(
        code="ND104",
        title="token is not a number",
        why="The file cannot be parsed; Ultralytics 8.4 drops the image with 'ignoring corrupt image/label' "
        "(its float conversion fails) and a hand-written loader crashes or reads a shifted row. A byte-order "
        "mark at the start is a warning: 8.4 opens labels as utf-8-sig and strips it, older releases and "
        "plain open() loaders read '\\ufeff0'.",
        fix="Fix the token (a stray comma, a byte-order mark, a header line, a class name instead of an id).",
        bad="`person 0.5 0.5 0.2 0.3` or `0 0.5,0.5 0.2 0.3`",
        good="`0 0.5 0.5 0.2 0.3`",
        check="nandoctor.data.yolo:_check_batch",
    ),
    Rule(
        code="ND105",
        title="NaN or Inf in a label",
        why="A `nan`/`inf` coordinate flows straight into the box loss and turns it NaN on the first batch "
        "that contains it. Ultralytics 8.4 drops the image, but only because NaN fails its range asserts; "
        "other loaders pass it on.",
        fix="Regenerate the label; the tool that wrote it divided by zero (an image width of 0?).",
        bad="`0 0.5 0.5 nan 0.3`",
        good="`0 0.5 0.5 0.2 0.3`",
        check="nandoctor.data.yolo_checks:check_rows",
    ),
    Rule(
        code="ND106",
        title="coordinate outside [0, 1]",
        why="Normalised coordinates outside [0, 1] (beyond Ultralytics' 1% tolerance) are pixel values or a "
        "wrong normalisation; they make huge regression targets. Ultralytics 8.4 drops the image "
        "('non-normalized or out of bounds coordinates', 'negative label values').",
        fix="Divide pixel coordinates by the image width/height; clip boxes to the image.",
        bad="`0 0.5 1.2 0.2 0.3` (cy = 1.2) or `0 320 240 64 48` (pixels)",
        good="`0 0.5 0.9 0.2 0.2`",
        check="nandoctor.data.yolo_checks:_range_hits",
    ),
    Rule(
        code="ND107",
        title="coordinate slightly outside [0, 1] (accepted)",
        why="Within Ultralytics' 1% tolerance, or a polygon/OBB vertex just past the edge whose enclosing "
        "box Ultralytics accepts: Ultralytics 8.4 keeps the image and clips it. Harmless, but a strict "
        "loader would reject it.",
        fix="Nothing required; clip to [0, 1] if another loader reads these labels.",
        bad="`0 0.5 1.005 0.2 0.2`; an OBB corner at x = -0.07 after tiling",
        good="`0 0.5 0.9 0.2 0.2`",
        check="nandoctor.data.yolo_checks:_aggregate_near",
    ),
    Rule(
        code="ND108",
        title="zero or negative width/height",
        why="A zero-area box divides by zero in IoU/CIoU (aspect term atan(w/h)) and in box encoding: the "
        "box loss turns inf/NaN. Ultralytics 8.4 keeps zero-area rows and drops the image only when a "
        "width or height is negative.",
        fix="Drop degenerate boxes or fix the export (x2 < x1 swapped?).",
        bad="`2 0.3 0.3 0.0 0.1`",
        good="`2 0.3 0.3 0.05 0.1` or no row",
        check="nandoctor.data.yolo_checks:_check_boxes",
    ),
    Rule(
        code="ND109",
        title="box extends past the image edge",
        why="cx ± w/2 outside [0, 1] means the box was not clipped; after augmentation the clipped box can "
        "collapse to zero area, and targets past the edge inflate the regression loss. Ultralytics 8.4 "
        "keeps the image (it range-checks cx, cy, w, h, not the corners).",
        fix="Clip x1, y1, x2, y2 to [0, 1] and recompute cx, cy, w, h.",
        bad="`1 0.95 0.5 0.2 0.1` (x2 = 1.05)",
        good="`1 0.925 0.5 0.15 0.1`",
        check="nandoctor.data.yolo_checks:_check_boxes",
    ),
    Rule(
        code="ND110",
        title="polygon with fewer than 3 points",
        why="A polygon of one or two points has no area: its mask is empty and its enclosing box is "
        "degenerate, which breaks the mask and box losses. A 5-column box row in a polygon file is read as "
        "a 2-point polygon, and Ultralytics 8.4 drops the image ('labels mix segment and detection rows'); "
        "a segment dataset whose label files hold only boxes is refused outright.",
        fix="Drop the row or re-export the segmentation with at least 3 points.",
        bad="`0 0.1 0.1 0.2 0.2` (2 points) in a segment label, alone or beside `0 0.1 0.1 0.2 0.1 0.2 0.2`",
        good="`0 0.1 0.1 0.2 0.1 0.2 0.2`",
        check="nandoctor.data.yolo_checks:check_rows",
    ),
    Rule(
        code="ND111",
        title="keypoint visibility outside {0, 1, 2}",
        why="Visibility weights the keypoint loss; other values scale it arbitrarily. Ultralytics 8.4 drops "
        "the image when one is below -0.01 (an error here) and keeps the others (a warning).",
        fix="Use 0 (not labelled), 1 (occluded) or 2 (visible).",
        bad="`0 0.5 0.5 0.2 0.2 0.51 0.42 5` with kpt_shape [1, 3]",
        good="`0 0.5 0.5 0.2 0.2 0.51 0.42 2`",
        check="nandoctor.data.yolo_checks:_check_boxes",
    ),
    Rule(
        code="ND112",
        title="duplicate label rows",
        why="Identical rows double the weight of one object; Ultralytics 8.4 keeps the image and removes "
        "them ('duplicate labels removed'), other loaders do not. Usually a merge or export bug.",
        fix="Remove the repeated rows (`sort -u` keeps one).",
        bad="the same `0 0.5 0.5 0.2 0.3` twice in one file",
        good="each object once",
        check="nandoctor.data.yolo_checks:_check_duplicates",
    ),
    Rule(
        code="ND113",
        title="empty label file (background image)",
        why="An empty label file marks a background image (Ultralytics 8.4 keeps it and counts it empty): "
        "fine in moderation, but a folder of them means the export lost the labels.",
        fix="Nothing if the image really has no objects.",
        bad="labels/train/img_5.txt of 0 bytes for an image full of people",
        good="empty files only for images without objects",
        check="nandoctor.data.yolo:_vet",
    ),
    Rule(
        code="ND114",
        title="image without a label file",
        why="Ultralytics 8.4 keeps it as a background image (counted missing); if it has objects they train "
        "as background.",
        fix="Add the label file, or move the image out if it should not be used.",
        bad="images/train/img_8.jpg with no labels/train/img_8.txt",
        good="one labels/<split>/<stem>.txt per images/<split>/<stem>.<ext>",
        check="nandoctor.data.engine:_pair",
    ),
    Rule(
        code="ND115",
        title="label file without an image",
        why="The loader starts from images, so Ultralytics 8.4 never reads this label: usually a renamed or "
        "deleted image, or labels written for the wrong split.",
        fix="Restore the image or delete the stray label file.",
        bad="labels/train/img_9.txt with no images/train/img_9.*",
        good="every label has its image (the last `/images/` of the path replaced by `/labels/`)",
        check="nandoctor.data.engine:_pair",
    ),
    Rule(
        code="ND116",
        title="image unreadable or too small",
        why="Ultralytics 8.4 drops images PIL cannot open, of an unsupported format, or under 10 px on a "
        "side; a custom loader crashes or feeds a degenerate tensor.",
        fix="Re-encode or remove the image.",
        bad="a 0-byte img.jpg, an HTML page saved as .jpg, a 4x4 px crop",
        good="a valid JPEG/PNG of at least 10 x 10 px",
        check="nandoctor.data.images:check_images",
    ),
    Rule(
        code="ND117",
        title="truncated JPEG",
        why="A JPEG without its end marker decodes with a grey band; Ultralytics 8.4 keeps the image and "
        "re-saves the file over the original during its scan (nandoctor never writes into your dataset).",
        fix="Re-encode the image yourself (PIL: open, then save) or re-download it.",
        bad="img.jpg whose last two bytes are not FF D9",
        good="a complete JPEG",
        check="nandoctor.data.images:check_images",
    ),
    Rule(
        code="ND118",
        title="pairing skipped",
        why="No images folder was found, so images without labels and labels without images were not checked.",
        fix="Point check-data at the dataset folder or data.yaml (with images/ beside labels/).",
        bad="`nandoctor check-data dataset/labels/train` when images live elsewhere",
        good="`nandoctor check-data dataset/data.yaml`",
        check="nandoctor.data.engine:_check_yolo",
    ),
    Rule(
        code="ND119",
        title="nc and names disagree",
        why="The head is built with `nc` outputs while labels and metrics follow `names` (or the reverse): "
        "class ids past the smaller one index out of range. Ultralytics 8.4 refuses the data.yaml "
        "(\"'names' length and 'nc' must match\"); other trainers do not check.",
        fix="Make `nc` equal to the number of `names` (or drop `nc`; Ultralytics derives it).",
        bad="nc: 6 with names: [fire, smoke]",
        good="nc: 2 with names: [fire, smoke]",
        check="nandoctor.data.engine:_yaml_classes",
    ),
    Rule(
        code="ND120",
        title="class count unknown",
        why="Without a class count the upper bound of class ids cannot be checked, and a label equal to "
        "num_classes is the classic off-by-one (label 101 with 101 classes).",
        fix="Pass --num-classes N, --config CFG --dataset NAME, or a data.yaml with names/nc.",
        bad="`nandoctor check-data labels/`",
        good="`nandoctor check-data data.yaml` or `--num-classes 80`",
        check="nandoctor.data.engine:_check_yolo",
    ),
    Rule(
        code="ND121",
        title="classification label out of range",
        why="A label >= num_classes (or negative and not the ignore index) makes cross-entropy index past the "
        "logits: a device-side assert on GPU, inf loss elsewhere (food101 label 101).",
        fix="Fix the label or num_classes; pass --ignore-index for a deliberate ignore label such as -100.",
        bad='`{"label": 101}` with num_classes 101',
        good='`{"label": 100}` (labels 0..100)',
        check="nandoctor.data.classification:check_classification",
    ),
    Rule(
        code="ND122",
        title="classification label missing or not an integer",
        why="A missing, string, float or boolean label is cast or crashes in the collate function; a cast "
        "float can land out of range.",
        fix="Write integer labels under the label key (see --label-key).",
        bad='`{"label": "3"}` or `{"lbl": 3}`',
        good='`{"label": 3}`',
        check="nandoctor.data.classification:_jsonl",
    ),
    Rule(
        code="ND123",
        title="NaN or Inf in a tensor",
        why="A non-finite input value propagates through every layer it touches: the loss is NaN on the first "
        "batch that contains it.",
        fix="Find the preprocessing step that divides by zero or logs 0; replace or drop the samples.",
        bad="a feature tensor with `nan` where a std was 0",
        good="torch.isfinite(x).all() before saving",
        check="nandoctor.data.tensors:_check",
    ),
    Rule(
        code="ND124",
        title="image tensor not normalised",
        why="Float pixels in 0..255 instead of [0, 1] or [-1, 1] make activations 255x larger: with AMP they "
        "overflow fp16, and the first updates explode.",
        fix="Divide by 255 (and normalise by mean/std) before saving or in the transform.",
        bad="float32 images with max 255.0",
        good="float32 images in [0, 1] or standardised",
        check="nandoctor.data.tensors:_check",
    ),
    Rule(
        code="ND125",
        title="constant or all-zero tensor",
        why="Zero variance: normalisation layers divide by std ~ 0 (RMSNorm/LayerNorm on all-zero padding), "
        "and a constant input carries no signal.",
        fix="Check the preprocessing; mask padding instead of feeding zeros through norm layers.",
        bad="an input batch that is all 0.0",
        good="inputs with non-zero variance, padding masked",
        check="nandoctor.data.tensors:_check",
    ),
    Rule(
        code="ND126",
        title="values above the fp16 maximum",
        why="fp16 tops out at 65504: under AMP these values become inf on the first cast.",
        fix="Rescale the inputs, or train in bf16/fp32.",
        bad="a float tensor holding 1e6",
        good="inputs scaled to a small range",
        check="nandoctor.data.tensors:_check",
    ),
    Rule(
        code="ND127",
        title="id at or above the vocabulary size",
        why="An embedding lookup past the table is a device-side assert on GPU and garbage on CPU; token or "
        "colour encodings that overflow (ids must stay below 256**3) do exactly this.",
        fix="Fix the tokenizer/encoding or raise --vocab-size to the embedding's size.",
        bad="token ids up to 151643 with an embedding of 151643 rows",
        good="max id < vocab size",
        check="nandoctor.data.tensors:_check",
    ),
    Rule(
        code="ND128",
        title="unsafe pickle in a tensor file",
        why="The file's pickle references a callable that would run code when loaded with "
        "weights_only=False; nandoctor refuses to load it and checks nothing inside.",
        fix="Do not load it with weights_only=False; re-export the tensors with safetensors from a trusted source.",
        bad="a .pt whose pickle calls `os.system`",
        good="a .safetensors file, or a .pt that torch.load(weights_only=True) accepts",
        check="nandoctor.data.torch_pickle:judge",
    ),
]
