"""The client protocol: frames a client sends and control replies (session events live in events.py)."""

from runtime_core.protocol.frames import (
    FRAME_TYPES,
    AnswerFrame,
    CancelFrame,
    Frame,
    PingFrame,
    ResumeFrame,
    StartFrame,
    UserMessageFrame,
)
from runtime_core.protocol.parser import FrameError, FrameErrorCode, parse_frame
from runtime_core.protocol.replies import Ack, Closing, ControlReply, ErrorReply, Pong, ReplayEnd

__all__ = [
    "FRAME_TYPES",
    "Ack",
    "AnswerFrame",
    "CancelFrame",
    "Closing",
    "ControlReply",
    "ErrorReply",
    "Frame",
    "FrameError",
    "FrameErrorCode",
    "PingFrame",
    "Pong",
    "ReplayEnd",
    "ResumeFrame",
    "StartFrame",
    "UserMessageFrame",
    "parse_frame",
]
