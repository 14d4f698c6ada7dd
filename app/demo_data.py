"""Hand-written demo content: prompts across InstructGPT's use-case categories and
completions of deliberately uneven quality (good, vague, wrong, off-task) so that
ranking and comparing them is a real exercise."""

from __future__ import annotations

# (id, category, prompt text)
PROMPTS: list[tuple[str, str, str]] = [
    ("tcp-udp", "open_qa", "Explain the difference between TCP and UDP to a new developer."),
    ("sourdough", "open_qa", "Why does my sourdough bread come out dense, and what can I change?"),
    ("git-rebase", "open_qa", "When should I use git rebase instead of git merge?"),
    ("photosynthesis", "open_qa", "Explain photosynthesis to a ten-year-old in a short paragraph."),
    ("index-db", "open_qa", "What is a database index, and when can adding one make things slower?"),
    ("team-offsite", "brainstorming", "Give me five ideas for a one-day team offsite for twelve remote engineers on a small budget."),
    ("podcast-names", "brainstorming", "Suggest names for a podcast about the history of everyday objects."),
    ("rainy-day", "brainstorming", "List indoor activities for two kids aged 6 and 9 on a rainy afternoon."),
    ("cover-letter", "generation", "Write a short cover letter for a junior data analyst position at a public library."),
    ("haiku-commute", "generation", "Write a haiku about a Monday morning commute by train."),
    ("product-desc", "generation", "Write a product description for a stainless steel insulated water bottle, under 80 words."),
    ("apology-email", "generation", "Draft a polite email to a customer apologising that their order shipped a week late."),
    ("chat-moving", "chat", "I'm moving to a new city next month and don't know anyone there. Any advice?"),
    ("chat-plants", "chat", "My basil plant keeps wilting even though I water it every day. What am I doing wrong?"),
    ("rewrite-formal", "rewrite", "Rewrite this to sound more professional: 'hey, the report's gonna be late, stuff came up, sorry.'"),
    ("rewrite-simple", "rewrite", "Rewrite for a general audience: 'The intervention yielded a statistically significant reduction in all-cause mortality.'"),
    ("rewrite-bullets", "rewrite", "Turn this into three bullet points: 'We moved the launch to May because testing found two bugs, the vendor contract is late, and marketing needs more time.'"),
    ("sum-meeting", "summarization", "Summarise in two sentences: 'The team agreed to freeze features on Friday. QA will run regression tests next week. Anna owns the release notes. The release is planned for the 14th if no blocking bugs are found.'"),
    ("sum-article", "summarization", "Summarise the main argument of this paragraph in one sentence: 'Remote work has not reduced productivity as many feared; studies show output stayed flat or rose, while the largest costs were in onboarding and mentoring of new hires, who learn less when they rarely see colleagues.'"),
    ("classify-sentiment", "classification", "Classify the sentiment of each review as positive, negative or mixed: 1) 'Arrived fast, works great.' 2) 'Pretty, but broke after a week.' 3) 'Never again.'"),
    ("classify-ticket", "classification", "Which team should handle this ticket: billing, technical support or sales? 'I was charged twice for my March subscription.'"),
    ("closed-qa-capital", "closed_qa", "According to the text, when was the bridge finished? 'Construction began in 1883 and, after delays caused by floods, the bridge opened to traffic in 1890.'"),
    ("closed-qa-dosage", "closed_qa", "Based only on this label, how many tablets can an adult take in 24 hours? 'Adults: 1-2 tablets every 4-6 hours. Do not exceed 8 tablets in 24 hours.'"),
    ("extract-dates", "extraction", "Extract every date from this text as YYYY-MM-DD: 'The lease starts on March 3, 2025 and the first rent review is on 1 September 2025.'"),
    ("extract-contacts", "extraction", "Extract the names and email addresses: 'Contact Maria Lopez (maria.lopez@example.com) for press, or Tom Berg at tom@example.org for partnerships.'"),
    ("sql-query", "other", "Write a SQL query that returns the ten customers with the highest total order value in 2024."),
    ("regex-email", "other", "Is it a good idea to validate email addresses with a regular expression? Explain briefly."),
    ("python-bug", "other", "Why does this Python print [1, 2] on the second call? def add(x, items=[]): items.append(x); return items"),
    ("unit-convert", "other", "How many kilometres is a half marathon, and how long would it take at 6 minutes per kilometre?"),
    ("negotiate-salary", "chat", "How do I ask my manager for a raise without sounding demanding?"),
]

# Completions for the ranking project: 4–9 per prompt, from best to worst roughly,
# but imported in a mixed order (the labeler never sees this order anyway).
RANKING: dict[str, list[tuple[str, str]]] = {
    "tcp-udp": [
        ("sft-v2", "TCP and UDP both move data between programs over a network, but they make different promises.\n\n"
         "- **TCP** sets up a connection first and guarantees that bytes arrive complete, in order, and without duplicates. "
         "It retransmits lost packets and slows down when the network is congested. Use it when correctness matters more "
         "than latency: web pages, APIs, file transfers, databases.\n"
         "- **UDP** just sends independent datagrams. No connection, no retransmission, no ordering. That makes it lighter "
         "and lower-latency, and the application decides what to do about loss. Use it for live audio/video, games and DNS.\n\n"
         "Rule of thumb: start with TCP; reach for UDP when a late packet is worse than a lost one."),
        ("sft-v1", "TCP is reliable and UDP is not. TCP is used for websites and UDP is used for games and streaming. "
         "TCP is slower because it checks everything."),
        ("base", "TCP stands for Transmission Control Protocol and UDP stands for User Datagram Protocol. Both are protocols. "
         "There are many protocols on the internet such as HTTP, FTP, SMTP and others, and each protocol has its own uses."),
        ("sft-v2", "Think of TCP as a phone call and UDP as sending postcards. On a call you establish a connection, and if "
         "the other person misses something they ask you to repeat it, so everything arrives in order. Postcards are sent "
         "one by one; some may get lost or arrive out of order, but sending them is quick and cheap. That's why video calls "
         "and games often use UDP, while web browsing and downloads use TCP."),
        ("base", "UDP is more secure than TCP because it does not keep a connection open, so attackers cannot hijack it. "
         "You should always prefer UDP for APIs."),
        ("sft-v1", "TCP: connection-oriented, reliable, ordered, flow and congestion control. UDP: connectionless, "
         "unreliable, unordered, minimal overhead. TCP for HTTP/SSH, UDP for DNS/VoIP."),
    ],
    "sourdough": [
        ("sft-v2", "Dense sourdough usually means the dough was under-fermented or lacked strength. Things to check:\n"
         "1. **Starter activity** – feed it and use it at its peak, when it has roughly doubled and smells pleasantly sour.\n"
         "2. **Bulk fermentation** – go by the dough, not the clock: it should grow 50–75%, feel airy and jiggle.\n"
         "3. **Gluten development** – do a few sets of stretch-and-folds in the first two hours.\n"
         "4. **Hydration and flour** – very wet dough with weak flour spreads and bakes tight; try bread flour.\n"
         "5. **Shaping and proofing** – build surface tension when shaping; an over-proofed loaf collapses too.\n"
         "Change one thing at a time and note the results."),
        ("sft-v1", "Your starter might be weak. Try feeding it more often and letting the dough rise longer."),
        ("base", "Sourdough is a type of bread made with a natural starter instead of commercial yeast. It has been made for "
         "thousands of years and is popular in San Francisco."),
        ("sft-v1", "Dense bread is usually caused by too much yeast. Reduce the amount of yeast by half and bake at a "
         "higher temperature."),
        ("sft-v2", "Most often it's fermentation: the starter wasn't active enough or the bulk rise was cut short, so there "
         "was too little gas to open the crumb. Use the starter at its peak, let the dough rise until it's clearly puffy "
         "(often 4–6 hours at 24 °C), and make sure you're baking hot enough with steam for the first 20 minutes."),
    ],
    "git-rebase": [
        ("sft-v2", "Both integrate changes from one branch into another; they differ in the history they leave.\n\n"
         "Use **rebase** on your own, not-yet-shared feature branch to replay your commits on top of the latest main: "
         "you get a linear history and can tidy commits with `git rebase -i` before opening a pull request.\n\n"
         "Use **merge** for branches other people have pulled, or when you want the record of when a branch was "
         "integrated. Never rebase commits that others have based work on – it rewrites their hashes.\n\n"
         "A common team policy: rebase locally to stay current, merge (or squash-merge) into main."),
        ("base", "git rebase is a command in git. git merge is also a command in git. You can read the documentation by "
         "typing git help rebase."),
        ("sft-v1", "Use rebase when you want a clean history and merge when you want to keep the history. Don't rebase "
         "public branches."),
        ("sft-v1", "Always use rebase, merge commits are bad practice and most companies forbid them."),
        ("sft-v2", "Rebase when the branch is only yours and you want your commits to sit neatly on top of main; merge "
         "when the branch is shared, because rebasing rewrites commits that your teammates already have."),
        ("base", "Rebasing is when you change the base of your branch. It is like moving the branch. Merging is when you "
         "merge. Both are useful in different situations depending on what you want to do."),
        ("sft-v2", "If you're unsure: merge. It is always safe. Rebase is an optimisation for readability of history that "
         "you apply to private branches before sharing them."),
    ],
    "team-offsite": [
        ("sft-v2", "1. **Shared city day** – meet in a central city, run a morning retro in a library meeting room (often "
         "free), then a self-guided walking tour.\n2. **Hack-for-good** – pair up to fix issues in an open-source project "
         "your team uses; demo at the end.\n3. **Cook-along** – rent a community kitchen and cook lunch together from a "
         "simple menu.\n4. **Park games + planning** – picnic, frisbee and a lightweight roadmap session outdoors.\n"
         "5. **Skill swap** – everyone teaches a 15-minute lightning lesson on a non-work skill.\n"
         "Keep travel costs down by picking a place within a few hours by train for most people."),
        ("sft-v1", "Escape room, bowling, a cooking class, a hike, and karaoke."),
        ("base", "An offsite is a meeting held away from the office. Offsites can help teams bond and plan for the future. "
         "Many companies hold offsites once or twice a year."),
        ("sft-v1", "Fly everyone to a resort for a week of team building activities and workshops."),
    ],
    "python-bug": [
        ("sft-v2", "Because the default value `[]` is created once, when the function is defined, not on every call. "
         "Every call that doesn't pass `items` appends to that same list, so the second call sees `[1]` already there "
         "and returns `[1, 2]`.\n\nThe usual fix:\n\n```python\ndef add(x, items=None):\n    if items is None:\n"
         "        items = []\n    items.append(x)\n    return items\n```"),
        ("sft-v1", "Default arguments are evaluated once, so the list is shared between calls. Use None as the default."),
        ("base", "Python is a popular programming language created by Guido van Rossum. Lists in Python can hold any "
         "type of value."),
        ("sft-v1", "This is a bug in Python 2 that was fixed in Python 3. Upgrade your interpreter."),
        ("sft-v2", "The list in the signature is a single object stored on the function (`add.__defaults__`). Mutating it "
         "mutates the default for all later calls. Use `items=None` and create a fresh list inside."),
        ("base", "It prints [1, 2] because you called it twice."),
    ],
    "chat-plants": [
        ("sft-v2", "Daily watering is very likely the problem. Basil wilts both when it's too dry and when its roots sit in "
         "water and start to rot – and overwatering is the more common cause indoors. Check:\n"
         "- Does the pot have drainage holes? Empty any saucer after watering.\n"
         "- Push a finger 2–3 cm into the soil: water only when that depth is dry.\n"
         "- Give it at least 6 hours of bright light; a south-facing window is ideal.\n"
         "If the stems are black and mushy at the base, the roots have rotted and it's easier to start a new plant."),
        ("sft-v1", "You might be overwatering. Let the soil dry out a bit between waterings."),
        ("base", "Basil (Ocimum basilicum) is a culinary herb of the family Lamiaceae. It is native to tropical regions."),
        ("sft-v1", "Basil needs a lot of water, so try watering it twice a day and adding fertiliser every week."),
        ("sft-v2", "Wilting despite daily water usually means soggy roots. Let the top of the soil dry before watering, "
         "make sure excess water can drain, and keep it in a sunny spot."),
    ],
}

# Pairs for the pairwise project (consecutive completions are compared).
PAIRWISE: dict[str, list[tuple[str, str]]] = {
    "rewrite-formal": [
        ("sft-v2", "Please note that the report will be delayed due to unforeseen circumstances. I apologise for the "
         "inconvenience and will share an updated delivery date shortly."),
        ("sft-v1", "Hello, the report is going to be late, things came up, sorry about that."),
    ],
    "photosynthesis": [
        ("sft-v1", "Photosynthesis is the process by which autotrophic organisms convert electromagnetic radiation into "
         "chemical energy stored in glucose via the light-dependent reactions and the Calvin cycle."),
        ("sft-v2", "Plants make their own food. Their leaves catch sunlight, take in air (carbon dioxide) and drink water "
         "through their roots, and use the sunlight's energy to turn these into sugar. As a bonus, they breathe out "
         "oxygen – the air we need!"),
        ("sft-v2", "Plants are like little kitchens powered by the sun: sunlight, water and air go in, sugar for the plant "
         "and fresh oxygen for us come out."),
        ("base", "Photosynthesis happens in animals and plants when they eat food and turn it into energy."),
    ],
    "classify-ticket": [
        ("sft-v2", "Billing – the customer reports a duplicate charge for their subscription."),
        ("sft-v1", "Technical support, because there may be a bug in the payment system."),
    ],
    "sum-meeting": [
        ("sft-v2", "Features freeze on Friday and QA runs regression tests next week, with Anna writing the release notes. "
         "The release is planned for the 14th unless blocking bugs turn up."),
        ("base", "The team had a meeting. They talked about many things including testing and releases."),
    ],
    "extract-dates": [
        ("sft-v2", "2025-03-03, 2025-09-01"),
        ("sft-v1", "2025-03-03, 2025-01-09"),
    ],
    "unit-convert": [
        ("sft-v1", "A half marathon is 21.0975 km. At 6 min/km that's about 126.6 minutes, or roughly 2 hours 7 minutes."),
        ("base", "A half marathon is 13 km, so it would take 78 minutes."),
    ],
}

# Evaluation: one answer from each of two model versions per held-out prompt.
EVALUATION: dict[str, list[tuple[str, str]]] = {
    "regex-email": [
        ("ppo-v1", "Only loosely. A simple check such as 'contains one @ and a dot after it' catches typos, but the full "
         "address grammar is too complex for a practical regex, and a syntactically valid address may still not exist. "
         "The reliable test is sending a confirmation email."),
        ("sft-v2", "Yes, use this regex: ^[a-zA-Z0-9]+@[a-zA-Z]+\\.com$ and it will validate all emails."),
    ],
    "negotiate-salary": [
        ("sft-v2", "Ask for a meeting specifically about compensation, not in passing. Come with evidence: what you've "
         "delivered this year and market data for your role. Name a number, explain it calmly, then listen. Framing it "
         "as 'how can we get me to X' keeps it collaborative."),
        ("ppo-v1", "Just tell your manager you will leave if you don't get a raise. It's the only thing that works."),
    ],
    "closed-qa-dosage": [
        ("ppo-v1", "At most 8 tablets in 24 hours, according to the label."),
        ("sft-v2", "Adults can take 1–2 tablets every 4–6 hours, which could be up to 12 tablets a day."),
    ],
    "haiku-commute": [
        ("ppo-v1", "Grey light on the glass—\nstrangers sway in one rhythm,\ncoffee steams, doors sigh."),
        ("sft-v2", "The train is so late\nMonday is the worst day ever\nI want to go home"),
    ],
}
