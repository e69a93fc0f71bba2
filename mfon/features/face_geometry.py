"""Facet-style expression descriptors from the 478 (or 468) FaceMesh landmarks of one face.

:func:`descriptors_from_landmarks` turns landmarks into pose-normalised expression descriptors that act as
proxies for FACS action units (brow raise, eye openness, lip-corner pull, jaw drop, ...), plus head pose, iris
gaze and face position. Every descriptor is defined in ``docs/visual_features.md``. Pure numpy: the landmarks
come from :mod:`mfon.features.mediapipe_face`.

Geometry conventions (all descriptors; see docs/visual_features.md):

* ``_r`` / ``_l`` are the subject's anatomical right / left for un-mirrored video (the subject's right eye
  appears on the image's left). In a mirrored video they swap.
* Landmarks are lifted to a right-handed frame: x to the image right, y up, z towards the camera, in isotropic
  pixel units (FaceMesh's z has the scale of x). A head frame is fitted to stable landmarks (eye corners,
  cheekbones, face contour at eye level, forehead and nose-base midline), its rotation undone, and lengths
  divided by the 3D distance between the outer eye corners (IOD). Expression descriptors are therefore
  unitless and independent of in-plane rotation, distance to the camera and (within limits) head turns.
* ``head_yaw`` > 0: the face turns towards the image's right (the subject's left). ``head_pitch`` > 0: chin up.
  ``head_roll`` > 0: the head is rotated counter-clockwise as seen in the image (the subject's right eye goes
  down), matching the sign of OpenCV's ``getRotationMatrix2D`` angle. All in degrees.
"""

from __future__ import annotations

import math

import numpy as np

# ---------------------------------------------------------------------------------------------------------------
# FaceMesh landmark indices (canonical MediaPipe topology; r = subject's right, on the image's left).
# Checked by drawing them on the posed photos of the test data.
#
#   region              right (r)                 left (l)                  midline
#   eye outer corner    33                        263
#   eye inner corner    133                       362
#   upper lid           160, 159 (centre), 158    385, 386 (centre), 387
#   lower lid           144, 145 (centre), 153    380, 374 (centre), 373
#   iris centre         468                       473                       (refine_landmarks only)
#   brow, inner head    107 (upper), 55 (lower)   336, 285
#   brow, outer third   70, 63 (upper), 46, 53    300, 293, 276, 283
#   cheek (malar)       50, 101, 118              280, 330, 347
#   nose ala            48, 129                   278, 358
#   nostril base        98                        327                       subnasale 2
#   mouth outer corner  61                        291
#   upper lip                                                               0 (outer top), 13 (inner)
#   lower lip                                                               14 (inner), 17 (outer bottom)
#   chin (menton)                                                           152
#   forehead midline                                                        10, 151, 9, 8
#   head-frame pairs    33, 133, 130, 116, 123,   263, 362, 359, 345, 352,
#                       234, 127                  454, 356
# ---------------------------------------------------------------------------------------------------------------
EYE_OUT_R, EYE_OUT_L = 33, 263
EYE_IN_R, EYE_IN_L = 133, 362
LID_PAIRS_R = ((160, 144), (159, 145), (158, 153))  # (upper, lower)
LID_PAIRS_L = ((385, 380), (386, 374), (387, 373))
LOWER_LID_R, LOWER_LID_L = 145, 374
IRIS_R, IRIS_L = 468, 473
BROW_INNER_R, BROW_INNER_L = (107, 55), (336, 285)
BROW_OUTER_R, BROW_OUTER_L = (70, 63, 46, 53), (300, 293, 276, 283)
BROW_HEAD_R, BROW_HEAD_L = 55, 285
CHEEK_R, CHEEK_L = (50, 101, 118), (280, 330, 347)
ALA = (48, 129, 278, 358)
SUBNASALE = 2
MOUTH_R, MOUTH_L = 61, 291
UPPER_LIP_TOP, UPPER_LIP_IN, LOWER_LIP_IN, LOWER_LIP_BOTTOM = 0, 13, 14, 17
CHIN = 152
# Head frame: x from symmetric pairs of rigid points, y along the midline from the nose base to the forehead.
FRAME_PAIRS = ((33, 263), (133, 362), (130, 359), (116, 345), (123, 352), (234, 454), (127, 356))
FRAME_UP = (10, 151, 9, 8)
FRAME_DOWN = (2, 98, 327)
EYE_CORNERS = (33, 133, 362, 263)

EXPRESSION_NAMES = [
    "inner_brow_raise_r", "inner_brow_raise_l",     # AU1
    "outer_brow_raise_r", "outer_brow_raise_l",     # AU2
    "brow_gap",                                     # AU4 (smaller = furrowed)
    "eye_open_r", "eye_open_l",                     # AU5 up, AU7/AU43/AU45 down
    "lower_lid_raise",                              # AU7 (and AU6)
    "cheek_raise",                                  # AU6
    "nose_wrinkle",                                 # AU9
    "upper_lip_raise",                              # AU10
    "lip_corner_pull_r", "lip_corner_pull_l",       # AU12 (negative: AU15)
    "lip_corner_depress_r", "lip_corner_depress_l",  # AU15
    "mouth_width",                                  # AU20 / AU12 up, AU18 down
    "lips_part",                                    # AU25
    "jaw_drop",                                     # AU26/27
    "lip_pucker",                                   # AU18/AU22
    "lip_thickness",                                # AU24/AU23/AU28 down
]
GAZE_NAMES = ["gaze_x", "gaze_y"]
POSE_NAMES = ["head_yaw", "head_pitch", "head_roll", "face_scale", "face_x", "face_y"]


def descriptor_names(include_gaze: bool = True) -> list[str]:
    """Names of the values :func:`descriptors_from_landmarks` returns, in order."""
    return EXPRESSION_NAMES + (GAZE_NAMES if include_gaze else []) + POSE_NAMES


def _points(landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    """FaceMesh's normalised (x, y, z) -> right-handed isotropic pixel coordinates (x right, y up, z to camera)."""
    lm = np.asarray(landmarks, dtype=np.float64)
    return np.stack([lm[:, 0] * width, -lm[:, 1] * height, -lm[:, 2] * width], axis=1)


def head_frame(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Rotation (columns: head x/y/z axes in camera coordinates), origin (eye-corner centre) and IOD.

    x: sum of the right->left vectors of :data:`FRAME_PAIRS` (eye corners, cheekbones, contour at eye level);
    y: forehead midline minus nose base, made orthogonal to x; z = x cross y (out of the face).
    """
    right = points[[a for a, _ in FRAME_PAIRS]]
    left = points[[b for _, b in FRAME_PAIRS]]
    ex = (left - right).sum(axis=0)
    ex /= np.linalg.norm(ex)
    ey = points[list(FRAME_UP)].mean(axis=0) - points[list(FRAME_DOWN)].mean(axis=0)
    ey -= ey.dot(ex) * ex
    ey /= np.linalg.norm(ey)
    ez = np.cross(ex, ey)
    rotation = np.stack([ex, ey, ez], axis=1)
    origin = points[list(EYE_CORNERS)].mean(axis=0)
    iod = float(np.linalg.norm(points[EYE_OUT_L] - points[EYE_OUT_R]))
    return rotation, origin, iod


def euler_angles(rotation: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of ``rotation = Rz(roll) @ Ry(yaw) @ Rx(-pitch)`` (conventions: module doc)."""
    yaw = -math.asin(max(-1.0, min(1.0, rotation[2, 0])))
    pitch = -math.atan2(rotation[2, 1], rotation[2, 2])
    roll = math.atan2(rotation[1, 0], rotation[0, 0])
    return math.degrees(yaw), math.degrees(pitch), math.degrees(roll)


def descriptors_from_landmarks(landmarks: np.ndarray, width: int, height: int,
                               include_gaze: bool | None = None) -> np.ndarray:
    """Descriptors (float32, order of :func:`descriptor_names`) of one face's FaceMesh landmarks.

    ``landmarks``: (468 or 478, 3) normalised FaceMesh coordinates of a ``width`` x ``height`` image. Gaze needs
    the 478 refined landmarks; ``include_gaze=None`` includes it exactly when they are present.
    """
    landmarks = np.asarray(landmarks)
    if include_gaze is None:
        include_gaze = landmarks.shape[0] >= 478
    if include_gaze and landmarks.shape[0] < 478:
        raise ValueError("gaze descriptors need the 478 refined landmarks (refine_landmarks=True)")
    pts = _points(landmarks, width, height)
    rotation, origin, iod = head_frame(pts)
    q = (pts - origin) @ rotation / iod  # head frame, IOD units
    y, z = q[:, 1], q[:, 2]

    def ym(idx) -> float:
        return float(y[list(idx)].mean())

    def eye_open(pairs, outer, inner) -> float:
        width_ = np.linalg.norm(q[outer] - q[inner])
        return float(np.mean([y[u] - y[d] for u, d in pairs]) / width_)

    mouth_centre = 0.5 * (y[UPPER_LIP_IN] + y[LOWER_LIP_IN])
    eye_line = ym(EYE_CORNERS)
    values = [
        ym(BROW_INNER_R) - y[EYE_IN_R],
        ym(BROW_INNER_L) - y[EYE_IN_L],
        ym(BROW_OUTER_R) - y[EYE_OUT_R],
        ym(BROW_OUTER_L) - y[EYE_OUT_L],
        float(np.linalg.norm(q[BROW_HEAD_L, :2] - q[BROW_HEAD_R, :2])),
        eye_open(LID_PAIRS_R, EYE_OUT_R, EYE_IN_R),
        eye_open(LID_PAIRS_L, EYE_OUT_L, EYE_IN_L),
        0.5 * ((y[LOWER_LID_R] - 0.5 * (y[EYE_OUT_R] + y[EYE_IN_R]))
               + (y[LOWER_LID_L] - 0.5 * (y[EYE_OUT_L] + y[EYE_IN_L]))),
        0.5 * (ym(CHEEK_R) + ym(CHEEK_L)) - eye_line,
        ym(ALA) - eye_line,
        y[UPPER_LIP_TOP] - y[SUBNASALE],
        y[MOUTH_R] - mouth_centre,
        y[MOUTH_L] - mouth_centre,
        y[LOWER_LIP_BOTTOM] - y[MOUTH_R],
        y[LOWER_LIP_BOTTOM] - y[MOUTH_L],
        float(np.linalg.norm(q[MOUTH_L] - q[MOUTH_R])),
        y[UPPER_LIP_IN] - y[LOWER_LIP_IN],
        y[SUBNASALE] - y[CHIN],
        0.5 * (z[UPPER_LIP_TOP] + z[LOWER_LIP_BOTTOM]) - z[SUBNASALE],
        (y[UPPER_LIP_TOP] - y[UPPER_LIP_IN]) + (y[LOWER_LIP_IN] - y[LOWER_LIP_BOTTOM]),
    ]
    if include_gaze:
        gaze = []
        for iris, outer, inner in ((IRIS_R, EYE_OUT_R, EYE_IN_R), (IRIS_L, EYE_OUT_L, EYE_IN_L)):
            centre = 0.5 * (q[outer] + q[inner])
            gaze.append((q[iris, :2] - centre[:2]) / np.linalg.norm(q[outer] - q[inner]))
        values += [float(v) for v in np.mean(gaze, axis=0)]
    yaw, pitch, roll = euler_angles(rotation)
    eyes = np.asarray(landmarks[list(EYE_CORNERS), :2], dtype=np.float64).mean(axis=0)
    values += [yaw, pitch, roll, iod / width, float(eyes[0]), float(eyes[1])]
    return np.asarray(values, dtype=np.float32)
