// The built-in emoji for reactions, with names to search by (nothing is
// fetched from anywhere else). The first row is the quick picks.

export const QUICK = ['👍', '❤️', '😂', '🎉', '👀', '✅'];

export const EMOJI = [
  ['👍', 'thumbs up', 'yes ok agree +1 like'], ['👎', 'thumbs down', 'no disagree -1 dislike'],
  ['❤️', 'red heart', 'love like'], ['😂', 'face with tears of joy', 'laugh lol funny'],
  ['🎉', 'party popper', 'celebrate tada congrats'], ['👀', 'eyes', 'look watching seen'],
  ['✅', 'check mark button', 'done yes ok complete'], ['❌', 'cross mark', 'no wrong cancel'],
  ['🙏', 'folded hands', 'please thanks pray'], ['👏', 'clapping hands', 'applause bravo'],
  ['🔥', 'fire', 'hot lit great'], ['🚀', 'rocket', 'ship launch fast'],
  ['💯', 'hundred points', 'perfect 100'], ['🙌', 'raising hands', 'hooray celebrate'],
  ['😀', 'grinning face', 'smile happy'], ['😃', 'grinning face with big eyes', 'smile happy'],
  ['😄', 'grinning face with smiling eyes', 'smile happy laugh'], ['😁', 'beaming face', 'grin'],
  ['😆', 'grinning squinting face', 'laugh'], ['😅', 'grinning face with sweat', 'phew nervous'],
  ['🤣', 'rolling on the floor laughing', 'rofl lol'], ['🙂', 'slightly smiling face', 'smile'],
  ['😉', 'winking face', 'wink'], ['😊', 'smiling face with smiling eyes', 'blush happy'],
  ['😍', 'smiling face with heart eyes', 'love'], ['🥰', 'smiling face with hearts', 'love'],
  ['😘', 'face blowing a kiss', 'kiss'], ['😎', 'smiling face with sunglasses', 'cool'],
  ['🤔', 'thinking face', 'think hmm'], ['🤨', 'face with raised eyebrow', 'skeptical'],
  ['😐', 'neutral face', 'meh'], ['😑', 'expressionless face', 'blank'],
  ['🙄', 'face with rolling eyes', 'eyeroll'], ['😏', 'smirking face', 'smirk'],
  ['😬', 'grimacing face', 'awkward yikes'], ['😮', 'face with open mouth', 'wow surprised'],
  ['😲', 'astonished face', 'shock'], ['😳', 'flushed face', 'embarrassed'],
  ['🥺', 'pleading face', 'please puppy'], ['😢', 'crying face', 'sad tear'],
  ['😭', 'loudly crying face', 'sob sad'], ['😤', 'face with steam from nose', 'angry frustrated'],
  ['😠', 'angry face', 'mad'], ['😡', 'pouting face', 'rage angry'],
  ['🤯', 'exploding head', 'mind blown'], ['😱', 'face screaming in fear', 'scream scared'],
  ['🥳', 'partying face', 'party celebrate birthday'], ['😴', 'sleeping face', 'sleep tired zzz'],
  ['🤒', 'face with thermometer', 'sick ill'], ['🤢', 'nauseated face', 'sick gross'],
  ['🤐', 'zipper mouth face', 'secret quiet'], ['🤫', 'shushing face', 'quiet secret'],
  ['🤝', 'handshake', 'deal agree'], ['👋', 'waving hand', 'hello hi bye wave'],
  ['✋', 'raised hand', 'stop hand high five'], ['👌', 'ok hand', 'ok perfect'],
  ['✌️', 'victory hand', 'peace'], ['🤞', 'crossed fingers', 'luck hope'],
  ['💪', 'flexed biceps', 'strong muscle'], ['👉', 'backhand index pointing right', 'point right'],
  ['👈', 'backhand index pointing left', 'point left'], ['👆', 'backhand index pointing up', 'point up'],
  ['👇', 'backhand index pointing down', 'point down'], ['🫡', 'saluting face', 'salute yes sir'],
  ['💚', 'green heart', 'love'], ['💙', 'blue heart', 'love'], ['💜', 'purple heart', 'love'],
  ['🧡', 'orange heart', 'love'], ['💛', 'yellow heart', 'love'], ['🖤', 'black heart', 'love'],
  ['💔', 'broken heart', 'sad'], ['✨', 'sparkles', 'shiny new magic'],
  ['⭐', 'star', 'favourite'], ['🌟', 'glowing star', 'shine'], ['⚡', 'high voltage', 'lightning fast'],
  ['💡', 'light bulb', 'idea'], ['❓', 'question mark', 'question'], ['❗', 'exclamation mark', 'important'],
  ['⚠️', 'warning', 'caution alert'], ['🚨', 'police car light', 'alert emergency incident'],
  ['🐛', 'bug', 'bug issue'], ['🛠️', 'hammer and wrench', 'tools fix'],
  ['🔧', 'wrench', 'fix tool'], ['🔒', 'locked', 'secure lock private'],
  ['🔑', 'key', 'password secret'], ['📌', 'pushpin', 'pin'],
  ['📎', 'paperclip', 'attach'], ['📝', 'memo', 'note write'],
  ['📅', 'calendar', 'date meeting'], ['⏰', 'alarm clock', 'time late'],
  ['⏳', 'hourglass not done', 'wait time'], ['☕', 'hot beverage', 'coffee tea break'],
  ['🍕', 'pizza', 'food lunch'], ['🍺', 'beer mug', 'drink cheers'],
  ['🎂', 'birthday cake', 'birthday'], ['🎁', 'wrapped gift', 'present'],
  ['🏆', 'trophy', 'win award'], ['🥇', 'first place medal', 'gold winner'],
  ['📈', 'chart increasing', 'up growth'], ['📉', 'chart decreasing', 'down'],
  ['💰', 'money bag', 'money'], ['🧠', 'brain', 'smart think'],
  ['👻', 'ghost', 'boo'], ['🤖', 'robot', 'bot'], ['💀', 'skull', 'dead lol'],
  ['🙈', 'see no evil monkey', 'oops'], ['🐶', 'dog face', 'dog'], ['🐱', 'cat face', 'cat'],
  ['🦄', 'unicorn', 'magic'], ['🌈', 'rainbow', 'pride'], ['☀️', 'sun', 'sunny'],
  ['🌧️', 'cloud with rain', 'rain'], ['❄️', 'snowflake', 'cold snow'],
  ['🎯', 'bullseye', 'target goal'], ['🧪', 'test tube', 'test experiment'],
  ['🔍', 'magnifying glass', 'search look'], ['📣', 'megaphone', 'announce'],
  ['➕', 'plus', 'add'], ['➖', 'minus', 'remove'], ['🆗', 'ok button', 'ok'],
];

// Emoji whose name or keywords contain every word of `query`.
export function searchEmoji(query) {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return EMOJI;
  return EMOJI.filter(([, name, keys]) => words.every((w) => name.includes(w) || keys.includes(w)));
}

export function nameOf(emoji) {
  const found = EMOJI.find(([e]) => e === emoji);
  return found ? found[1] : emoji;
}
