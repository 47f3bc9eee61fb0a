/** The demo page: every element registers itself on import; rlhf-app is the page. */
import './components/rlhf-app.ts';
