"""Transcripts of the demo corpus: a sentiment phrase whose intensity follows the text factor, in movie talk."""

from __future__ import annotations

import numpy as np

from .model import UNIMODAL_SCALE

# Sentiment phrases by intensity level -3 .. 3 (index level + 3).
_PHRASES: list[list[str]] = [
    ["terrible", "awful", "horrible", "the worst", "a complete waste of time", "painful to watch"],
    ["bad", "boring", "disappointing", "annoying", "really dumb", "a mess"],
    ["weak", "mediocre", "kind of slow", "a little boring", "predictable", "forgettable"],
    ["okay", "fine", "alright", "average", "so so", "about what i expected"],
    ["decent", "nice", "pretty good", "solid", "kind of fun", "enjoyable enough"],
    ["good", "great", "really enjoyable", "funny", "beautiful", "impressive"],
    ["amazing", "fantastic", "brilliant", "awesome", "incredible", "one of the best i have seen"],
]
# Negated forms: the sentiment word says the opposite of the phrase's meaning.
_NEGATED: dict[int, list[str]] = {
    -3: ["not good at all", "not even close to good"],
    -2: ["not good", "not very good", "not worth it"],
    -1: ["not that great", "not as good as i hoped"],
    1: ["not bad", "not too bad", "not terrible"],
    2: ["not bad at all", "not boring at all"],
}
_TOPICS = [
    "the movie", "the acting", "the plot", "the ending", "the soundtrack", "the story", "the pacing",
    "the cast", "the script", "the director", "the cinematography", "the humor", "the main character",
]
_PLURAL_TOPICS = ["the special effects", "the characters", "the action scenes", "the jokes", "the songs"]
_JUDGEMENT = [
    "{topic} {was} {adj}", "i thought {topic} {was} {adj}", "honestly {topic} {was} {adj}",
    "i felt like {topic} {was} {adj}", "overall it was {adj}", "i would say {topic} {was} {adj}",
    "to me {topic} {was} {adj}", "the whole thing was {adj}", "i think {topic} {is_} {adj}",
]
_NEUTRAL = [
    "i saw it last weekend", "i went with my sister", "it is about a guy who loses his job",
    "it came out last year", "it is a sequel", "the main character is a detective",
    "it runs about two hours", "i watched it on a plane", "it is based on a book",
    "it is set in a small town", "my friend told me to go see it", "i saw the trailer first",
]
_FILLERS = ["um", "uh", "so", "you know", "i mean", "like", "basically", "well", "yeah"]
_STRONG = ["really", "so", "very", "just"]


def make_transcript(r_t: float, duration: float, rng: np.random.Generator) -> str:
    """A lower-case movie-review utterance whose sentiment intensity follows ``r_t``."""
    level = int(np.clip(round(UNIMODAL_SCALE * r_t), -3, 3))

    def phrase(lvl: int, allow_negation: bool) -> str:
        if allow_negation and lvl in _NEGATED and rng.random() < 0.15:
            return str(rng.choice(_NEGATED[lvl]))
        adj = str(rng.choice(_PHRASES[lvl + 3]))
        if abs(lvl) == 3 and " " not in adj and rng.random() < 0.5:
            adj = f"{rng.choice(_STRONG)} {adj}"
        return adj

    used: set[str] = set()

    def judgement(lvl: int, allow_negation: bool = True) -> str:
        template = str(rng.choice(_JUDGEMENT))
        plural = bool(rng.random() < 0.25)
        topics = [t for t in (_PLURAL_TOPICS if plural else _TOPICS) if t not in used]
        topic = str(rng.choice(topics))
        used.add(topic)
        return template.format(
            topic=topic,
            was="were" if plural else "was",
            is_="are" if plural else "is",
            adj=phrase(lvl, allow_negation),
        )

    parts: list[str] = []
    if rng.random() < 0.4:
        parts.append(str(rng.choice(_FILLERS)))
    if rng.random() < 0.2 + 0.1 * duration:
        parts.append(str(rng.choice(_NEUTRAL)))
        parts.append(str(rng.choice(["and", "and um", "so", "and honestly"])))
    parts.append(judgement(level))
    roll = rng.random()
    if roll < 0.15:  # noise: a contrasting clause with an unrelated sentiment word
        parts.append("but")
        parts.append(judgement(int(rng.integers(-3, 4)), allow_negation=False))
    elif roll < 0.45 and duration > 2.5:  # reinforcement: same direction, a step weaker or equal
        weaker = level - int(np.sign(level)) * int(rng.integers(0, 2))
        parts.append(str(rng.choice(["and", "and also", "and you know"])))
        parts.append(judgement(weaker, allow_negation=False))
    if rng.random() < 0.25:
        parts.append(str(rng.choice(["you know", "i guess", "yeah", "so yeah"])))
    return " ".join(parts)
